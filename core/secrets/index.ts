// The secrets store's public API, for the gateway, gated and the container runner.
//   const store = SecretStore.inDataDir(data, () => loadKeyring({ dataDir: data }));
//   const env = effectiveSecrets(store, tenant, persona.env);         // container environment
//   const redact = makeRedactor(env);                                 // scrub tool results and audit entries
export { SecretsError } from './errors.js';
export { loadKeyring, resolveKeySource, readKeyFile, KEY_ENV, KEY_FILE_ENV, DEFAULT_KEY_FILE, type KeyOptions } from './key-source.js';
export type { Keyring, KeySource } from './keyring.js';
export { SecretStore, SECRETS_DB, type SecretInfo, type CredentialInfo, type KeyringSource } from './store.js';
export { effectiveSecrets, resolveSecrets, scopeChain, type Resolution } from './scope.js';
export { makeRedactor, makeDeepRedactor, redactDeep, MIN_REDACT_LENGTH, type Redactor } from './redact.js';
export { secretNameProblem, isSecretName, RESERVED_NAMES } from './names.js';
export { rotate, type RotateResult } from './rotate.js';
