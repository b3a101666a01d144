/**
 * One word of a command's argv, wherever a command is given (a policy's gate or setup, a
 * submitter's gate, a spec's `test_command`).
 */
import { z } from 'zod';

/** Why a NUL is refused where it is given: no program can be handed one (spawn throws), and one stored as `\0` would run another command than the file's, under the file's digest. */
export const NO_NUL = 'must not contain a NUL character';

/** True for text a program can be handed: no NUL in it. */
export const nulFree = (text: string): boolean => !text.includes('\0');

/** A non-empty argv word without a NUL. */
export const ArgvWord = z.string().min(1).refine(nulFree, NO_NUL);
