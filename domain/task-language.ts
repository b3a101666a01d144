/**
 * The languages a task may say it is in: a closed list, so that what routing keys its statistics
 * by never carries a submitter's free text.
 */
import { z } from 'zod';

/** The languages, by the names routing uses. */
export const TASK_LANGUAGES = [
  'c',
  'cpp',
  'csharp',
  'go',
  'java',
  'javascript',
  'kotlin',
  'php',
  'python',
  'ruby',
  'rust',
  'shell',
  'swift',
  'typescript',
] as const;
/** A language a task may name. */
export const TaskLanguageSchema = z.enum(TASK_LANGUAGES);
