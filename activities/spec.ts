/**
 * `validateSpec`: YAML in, one normalised CAWS spec out, or a non-retryable SpecInvalidError
 * naming every problem.
 */
import { log } from '@temporalio/activity';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ValidateSpecInput, type ValidateSpecResult } from '../domain/activity-io';
import { SpecInvalidError } from '../domain/errors';
import { validateWorkingSpec } from '../domain/spec';
import { sha256 } from './digest';
import { parseActivityInput } from './input';

/** Parses YAML text; a syntax error becomes a spec problem with its line. */
export function parseSpecYaml(text: string): unknown {
  try {
    return parseYaml(text, { prettyErrors: true });
  } catch (err) {
    if (err instanceof YAMLParseError) throw new SpecInvalidError([`YAML: ${err.message.split('\n')[0]}`]);
    throw err;
  }
}

/** Builds the `validateSpec` activity. */
export function createSpecActivities() {
  return {
    async validateSpec(raw: ValidateSpecInput): Promise<ValidateSpecResult> {
      const input = parseActivityInput(ValidateSpecInput, raw);
      const format = input.specFormat === 'auto' ? undefined : input.specFormat;
      const result = validateWorkingSpec(parseSpecYaml(input.specYaml), { format });
      if (!result.ok) {
        log.warn('working spec rejected', { problems: result.problems });
        throw new SpecInvalidError(result.problems);
      }
      for (const warning of result.warnings) log.warn('working spec warning', { warning });
      return { spec: result.spec, warnings: result.warnings, specDigest: sha256(input.specYaml) };
    },
  };
}
