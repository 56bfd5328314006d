/**
 * stele/proofs runs outside Node: lib/proofs/index.ts bundles with esbuild for the browser
 * platform with no `node:` module and nothing left external, and the bundle, run in a bare
 * `node:vm` context (no require, no process, no Buffer, not even TextEncoder or atob),
 * verifies an inclusion proof and a signed note and signs a note byte for byte.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { test } from 'node:test';
import { bundleForBrowser } from './helpers/browser-bundle.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = path.join(ROOT, 'lib/proofs/index.ts');
const bundle = (options: { entry: string } | { contents: string }) => bundleForBrowser(options, 'steleProofs');

test('the check sees a node: import when there is one', async () => {
  const report = await bundle({ contents: "import { createHash } from 'node:crypto'; export const h = createHash;" });
  assert.deepEqual(report.nodeImports, ['node:crypto']);
});

test('lib/proofs bundles for the browser with no node: import, and runs in a bare vm context', async () => {
  const report = await bundle({ entry: ENTRY });
  assert.deepEqual(report.nodeImports, [], 'node: or external imports in the browser bundle');
  // Only the proof layer and the noble libraries are in it: nothing of the ledger.
  const outside = report.inputs.filter((p) => !p.startsWith('lib/proofs/') && !p.startsWith('node_modules/@noble/'));
  assert.deepEqual(outside, []);
  assert.ok(report.inputs.includes('lib/proofs/merkle-tree.ts'));

  const context = vm.createContext({});
  vm.runInContext(report.code, context, { filename: 'stele-proofs.bundle.js', timeout: 10_000 });
  const probe = `(() => {
    const p = steleProofs;
    const hex = (s) => new Uint8Array(s.match(/../g).map((b) => parseInt(b, 16)));
    const bare = [typeof require, typeof process, typeof Buffer, typeof TextEncoder, typeof atob].join(',');

    // known-answers §1: leaf 5 of the 8-leaf test tree.
    const proof = [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ].map(hex);
    const root = hex('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
    const leaf = p.leafHash(hex('40414243'));
    p.verifyInclusion(leaf, 5, 8, proof, root);
    let wrongIndex = 'accepted';
    try { p.verifyInclusion(leaf, 4, 8, proof, root); } catch (err) { wrongIndex = err.code; }

    // known-answers §2 and §3: verify the C2SP example, sign the note.Sign example.
    const note = p.verifyNote(
      'This is an example message.\\n\\n\\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\\n',
      ['example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k'],
    );
    const signed = p.signNote(
      "If you think cryptography is the answer to your problem,\\nthen you don't know what your problem is.\\n",
      'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz',
    );
    return JSON.stringify({ bare, wrongIndex, text: note.text, line: signed.split('\\n\\n')[1] });
  })()`;
  const result = JSON.parse(vm.runInContext(probe, context, { timeout: 10_000 }) as string) as Record<string, string>;
  assert.deepEqual(result, {
    bare: 'undefined,undefined,undefined,undefined,undefined',
    wrongIndex: 'INCLUSION_FAILED',
    text: 'This is an example message.\n',
    line: '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n',
  });
});
