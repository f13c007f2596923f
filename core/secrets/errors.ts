// The one error type of the secrets store. Every message says what is wrong and what the operator can do about it;
// callers print it as is. Throwing (never falling back) is how the store fails closed.
export class SecretsError extends Error {
  override readonly name = 'SecretsError';
}
