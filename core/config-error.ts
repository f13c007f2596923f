// A problem in an operator-edited file, always with the place it was found so the operator can fix it.
export interface ConfigError {
  /** Absolute path of the file (or folder) at fault. */
  file: string;
  /** 1-based line; 0 when the problem is the file or folder as a whole. */
  line: number;
  message: string;
}

export function formatConfigError(e: ConfigError): string {
  return e.line > 0 ? `${e.file}:${e.line}: ${e.message}` : `${e.file}: ${e.message}`;
}
