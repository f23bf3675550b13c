// Runs graphql-http's server audits (the GraphQL-over-HTTP specification's
// own checks, MUSTs and SHOULDs) against the URL in argv[2]; exits 1 if any
// audit does not pass, printing each result.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs http://host:port/query');
  process.exit(2);
}
let failed = 0;
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  const mark = result.status === 'ok' ? 'ok  ' : result.status.toUpperCase();
  if (result.status !== 'ok') failed++;
  console.log(`${mark} ${audit.id} ${audit.name}${result.status === 'ok' ? '' : `: ${result.reason}`}`);
}
console.log(failed === 0 ? 'all audits passed' : `${failed} audits did not pass`);
process.exit(failed === 0 ? 0 : 1);
