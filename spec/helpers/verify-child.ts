/**
 * Child process of spec/verify.spec.ts: verifies a ledger file, prints the result as one JSON
 * line and returns from the module, so the parent can check the process exits on its own (the
 * verify pool's idle threads must not keep it alive).
 *
 * Usage: node --import tsx spec/helpers/verify-child.ts <ledgerPath>
 */
import { verifyLedgerFile } from '../../lib/verify/verify-ledger-file.ts';

const [ledgerPath] = process.argv.slice(2);
if (!ledgerPath) {
  process.stderr.write('usage: verify-child.ts <ledgerPath>\n');
  process.exit(2);
}
const result = await verifyLedgerFile(ledgerPath, { rangeSize: 100 });
process.stdout.write(JSON.stringify(result) + '\n');
