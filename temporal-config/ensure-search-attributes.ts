/**
 * Makes sure Arbiter's custom search attributes exist on a namespace. Without them every
 * workflow task fails on its first upsert, so processes check at start and say exactly
 * which attributes are missing instead.
 */
import type { OperatorService } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { SEARCH_ATTRIBUTE_KEYS } from './index';

/** Raised when attributes are missing and could not (or may not) be registered. */
export class MissingSearchAttributesError extends Error {
  constructor(
    public readonly missing: string[],
    namespace: string,
    cause?: string,
  ) {
    super(
      `search attributes missing on namespace '${namespace}': ${missing.join(', ')}` +
        ` (register them with \`temporal operator search-attribute create\`; see README)${cause ? `: ${cause}` : ''}`,
    );
    this.name = 'MissingSearchAttributesError';
  }
}

/** The names of Arbiter's attributes the namespace lacks. */
export async function missingSearchAttributes(operator: OperatorService, namespace: string): Promise<string[]> {
  const { customAttributes } = await operator.listSearchAttributes({ namespace });
  return SEARCH_ATTRIBUTE_KEYS.map((k) => k.name).filter((name) => !(customAttributes && name in customAttributes));
}

/**
 * Checks the namespace and, when `register` is true, adds what is missing (operators of a
 * production cluster may prefer to register them themselves and run with `register: false`).
 */
export async function ensureSearchAttributes(
  operator: OperatorService,
  namespace: string,
  register: boolean,
): Promise<void> {
  const missing = await missingSearchAttributes(operator, namespace);
  if (missing.length === 0) return;
  if (!register) throw new MissingSearchAttributesError(missing, namespace);
  const searchAttributes = Object.fromEntries(
    SEARCH_ATTRIBUTE_KEYS.filter((k) => missing.includes(k.name)).map((k) => [
      k.name,
      encodeSearchAttributeIndexedValueType(k.type)!,
    ]),
  );
  try {
    await operator.addSearchAttributes({ namespace, searchAttributes });
  } catch (err) {
    throw new MissingSearchAttributesError(missing, namespace, (err as Error).message);
  }
}
