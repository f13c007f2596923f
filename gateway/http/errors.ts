// An error the API answers with as JSON: `{error, problems?}` and a status. Anything else is a 500 that names no detail.
export class HttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 413 | 415 | 422 | 503,
    message: string,
    /** Operator-file problems with file:line, or schema issues with their paths. */
    readonly problems?: string[],
  ) {
    super(message);
  }
}
