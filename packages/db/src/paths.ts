import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the Prisma schema and its migrations live. */
export interface PrismaPaths {
  /** The repository's `prisma/` folder. */
  prismaDir: string;
  /** `prisma/schema.prisma`. */
  schemaFile: string;
  /** `prisma/migrations/`. */
  migrationsDir: string;
}

/**
 * Finds the repository's `prisma/` folder by walking up from this file (not from the working
 * directory), so commands behave the same from any folder of the workspace.
 * Throws when no ancestor has `prisma/schema.prisma`.
 */
export function findPrismaPaths(prismaDir?: string): PrismaPaths {
  const dir = prismaDir ? path.resolve(prismaDir) : locatePrismaDir();
  return {
    prismaDir: dir,
    schemaFile: path.join(dir, 'schema.prisma'),
    migrationsDir: path.join(dir, 'migrations'),
  };
}

let located: string | undefined;

function locatePrismaDir(): string {
  if (located) return located;
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'prisma');
    if (existsSync(path.join(candidate, 'schema.prisma'))) {
      located = candidate;
      return candidate;
    }
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(`no prisma/schema.prisma found in any folder above ${start}`);
}
