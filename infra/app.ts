import { buildApp } from './build-app.ts';
import { nagReport } from './nag.ts';

const { app, config } = buildApp();
app.synth();
// cdk-nag (AwsSolutions) on what is deployed to AWS; the LocalStack target lacks VPC and RDS by design.
if (config.target === 'aws') {
  const { open } = nagReport(app);
  for (const finding of open) console.error(`cdk-nag: ${finding.rule} at ${finding.path}`);
  if (open.length > 0) {
    throw new Error(
      `cdk-nag: ${open.length} unacknowledged finding(s); accept them in infra/nag.ts with a reason, or fix them`,
    );
  }
}
