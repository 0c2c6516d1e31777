// Exit codes are part of the CLI contract: scripts and the Talos service manager read them.
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_INVALID = 2;

/** Wrong command line: unknown command or flag, missing argument. Exit code 2. */
export class UsageError extends Error {
  readonly exitCode = EXIT_INVALID;
}

/** Input that was read but is not acceptable (a config, a CIDR). Exit code 2, nothing changed. */
export class InvalidInputError extends Error {
  readonly exitCode = EXIT_INVALID;
}

/** Something the operator asked for could not be done (a tool or the kernel refused). Exit 1. */
export class OperationError extends Error {
  readonly exitCode = EXIT_FAILURE;
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError || err instanceof InvalidInputError) return EXIT_INVALID;
  return EXIT_FAILURE;
}
