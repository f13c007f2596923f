// Resolve hook for register.mjs: `fs` imported by the conformance tool resolves to fs.mjs; nothing else changes.
export async function resolve(specifier, context, next) {
  if (specifier === 'fs' && context.parentURL?.includes('/@modelcontextprotocol/conformance/')) {
    return { url: new URL('./fs.mjs', import.meta.url).href, shortCircuit: true };
  }
  return next(specifier, context);
}
