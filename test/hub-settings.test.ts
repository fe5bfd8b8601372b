// Hub settings from huggingface_hub's environment variables and from options, and which references are Hub ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isHubId, repoFolderName, resolveUrl } from '../src/hub/id.ts';
import { hubSettings } from '../src/hub/settings.ts';
import { cleanup, tempDir } from './helpers/pipeline-models.ts';

const VARS = ['HF_ENDPOINT', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_TOKEN_PATH', 'HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HUB_OFFLINE', 'XDG_CACHE_HOME'];

function withEnv<T>(env: Record<string, string>, fn: () => T): T {
  const saved = Object.fromEntries(VARS.map((k) => [k, process.env[k]]));
  for (const k of VARS) delete process.env[k];
  Object.assign(process.env, env);
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

test('settings: defaults, then HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN or $HF_HOME/token, HF_HUB_OFFLINE; options win', () => {
  const home = tempDir('hf-home-');
  try {
    const d = withEnv({}, () => hubSettings());
    assert.equal(d.endpoint, 'https://huggingface.co');
    assert.equal(d.cacheDir, join(homedir(), '.cache', 'huggingface', 'hub'));
    assert.equal(d.revision, 'main');
    assert.equal(d.offline, false);
    assert.equal(withEnv({ XDG_CACHE_HOME: '/x' }, () => hubSettings()).cacheDir, join('/x', 'huggingface', 'hub'));

    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, 'token'), 'hf_from_file\n');
    const e = withEnv({ HF_HOME: home, HF_ENDPOINT: 'http://127.0.0.1:1/', HF_HUB_OFFLINE: 'true' }, () => hubSettings());
    assert.deepEqual([e.cacheDir, e.token, e.endpoint, e.offline], [join(home, 'hub'), 'hf_from_file', 'http://127.0.0.1:1', true]);
    const f = withEnv({ HF_HOME: home, HF_HUB_CACHE: '/c', HF_TOKEN: 'hf_env', HF_HUB_OFFLINE: '0' }, () => hubSettings());
    assert.deepEqual([f.cacheDir, f.token, f.offline], ['/c', 'hf_env', false]);
    const o = withEnv({ HF_HOME: home, HF_HUB_OFFLINE: '1' }, () => hubSettings({ cacheDir: '/o', token: false, localFilesOnly: false, revision: 'v2', endpoint: 'http://127.0.0.1:2' }));
    assert.deepEqual([o.cacheDir, o.token, o.offline, o.revision, o.endpoint], ['/o', undefined, false, 'v2', 'http://127.0.0.1:2']);
    assert.throws(() => hubSettings({ revision: '../x' }), /revision must be a branch, tag or commit/);
  } finally {
    cleanup();
  }
});

test('ids: huggingface_hub\'s rules; cache folder names; resolve URLs', () => {
  for (const id of ['org/name', 'name', 'microsoft/deberta-v3-base', 'a.b_c-d/e.f', 'x']) assert.equal(isHubId(id), true, id);
  for (const id of ['./name', '/abs/path', 'a/b/c', 'org--x/name', 'org/na..me', 'org/name.git', 'org/-name', 'org/name-', '', 'org/', 'x'.repeat(97), 'C:\\models']) {
    assert.equal(isHubId(id), false, id);
  }
  assert.equal(repoFolderName('org/name'), 'models--org--name');
  assert.equal(repoFolderName('name'), 'models--name');
  assert.equal(resolveUrl('https://hf.example/', 'org/name', 'refs/pr/1', 'sub dir/a.json'), 'https://hf.example/org/name/resolve/refs%2Fpr%2F1/sub%20dir/a.json');
});
