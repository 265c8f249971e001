// A copy of the repository to release from, so the real tree is never versioned: the files git
// knows (tracked, or new and not ignored), no build output, and a node_modules of links to the
// repository's installed packages, with the workspace links pointing into the copy.
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run } from './run';

/** Copies the repository at `repo` to `dest` and makes the copy a git repository of one commit. */
export async function copyRepository(repo: string, dest: string): Promise<void> {
  const listed = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repo });
  const files = listed.stdout.split('\0').filter((file) => file !== '');
  for (const file of files) {
    mkdirSync(dirname(join(dest, file)), { recursive: true });
    // A file deleted in the working tree but still in the index is skipped.
    try {
      cpSync(join(repo, file), join(dest, file), { dereference: false });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  const root = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { workspaces: string[] };
  const workspaces = new Map<string, string>();
  for (const pattern of root.workspaces) {
    const parents = pattern.endsWith('/*') ? [pattern.slice(0, -2)] : [];
    const dirs = parents.length > 0 ? readdirSync(join(dest, parents[0]!)).map((d) => `${parents[0]}/${d}`) : [pattern];
    for (const dir of dirs) {
      try {
        const name = (JSON.parse(readFileSync(join(dest, dir, 'package.json'), 'utf8')) as { name: string }).name;
        workspaces.set(name, join(dest, dir));
      } catch {
        // not a package directory
      }
    }
  }
  const modules = join(dest, 'node_modules');
  mkdirSync(join(modules, '@homing'), { recursive: true });
  for (const entry of readdirSync(join(repo, 'node_modules'))) {
    if (entry !== '@homing') symlinkSync(join(repo, 'node_modules', entry), join(modules, entry));
  }
  for (const [name, dir] of workspaces) {
    if (name.startsWith('@homing/')) symlinkSync(dir, join(modules, name));
  }
  // `changeset publish` tags the release in git, as a real one would.
  const git = {
    cwd: dest,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'release test',
      GIT_AUTHOR_EMAIL: 'release@test.invalid',
      GIT_COMMITTER_NAME: 'release test',
      GIT_COMMITTER_EMAIL: 'release@test.invalid',
    },
  };
  await run('git', ['init', '-q', '-b', 'main'], git);
  await run('git', ['add', '-A'], git);
  await run('git', ['commit', '-q', '-m', 'release test copy'], git);
}
