// Hand-written code over the generated operation types, type-checked by run.sh with
// `tsc --strict --noEmit`: when the schema or a saved operation changes shape, this
// stops compiling. Nothing here runs.
import type {
  ControlTowerQuery,
  EnterBreakGlassMutationVariables,
  LoginMutation,
  SettingsDirectivesQuery,
  TenantCardFragment,
  TenantHealthQuery,
  TenantHealthQueryVariables,
} from '../generated/graphql.js';

// The documented scalar mapping: DateTime → string, JSON → unknown.
type DateTime = TenantCardFragment['createdAt'];
type Json = TenantCardFragment['metadata'];
export const createdAt: DateTime = '2026-01-31T12:00:00Z';
// @ts-expect-error DateTime is an RFC 3339 string, not a Date.
export const notADate: DateTime = new Date();
export const anyJson: Json = { nested: [1, 'two', null] };
export function metadataKeys(card: TenantCardFragment): string[] {
  const metadata = card.metadata;
  // @ts-expect-error JSON is unknown: it must be narrowed before use.
  metadata.anything;
  return metadata !== null && typeof metadata === 'object' ? Object.keys(metadata) : [];
}

export const tenantHealthVariables: TenantHealthQueryVariables = { externalId: 'acme-prod', window: 'LAST_7D' };
// @ts-expect-error externalId is required.
export const missingExternalId: TenantHealthQueryVariables = { window: 'LAST_24H' };
// @ts-expect-error window is an enum, not any string.
export const badWindow: TenantHealthQueryVariables = { externalId: 'acme-prod', window: 'LAST_YEAR' };

export const breakGlass: EnterBreakGlassMutationVariables = { reason: 'incident 42: checking a tenant', minutes: 15 };

/** The tenant's badge and its first signal, or why there is none. */
export function badge(data: TenantHealthQuery): string {
  const tenant = data.tenant;
  if (tenant === null) return 'no such tenant';
  const level: 'HEALTHY' | 'UNKNOWN' | 'WARNING' | 'CRITICAL' = tenant.health.level;
  const first = tenant.health.signals[0];
  const neverChecked = tenant.providerConnections.filter((c) => c.lastHealthCheckAt === null).length;
  return `${tenant.name}: ${level}${first ? ` (${first.source}: ${first.message})` : ''}, ${neverChecked} never checked`;
}

/** The dashboard's failure rate as a percentage; n/a when no run finished. */
export function failureRate(data: ControlTowerQuery): string {
  const { runs, window, generatedAt } = data.controlTower;
  const rate: number | null = runs.failureRate;
  const since: DateTime = window.start;
  return `${rate === null ? 'n/a' : `${(rate * 100).toFixed(1)} %`} since ${since} (at ${generatedAt})`;
}

/** Fields under @include/@skip are optional in the result type. */
export function staleHours(data: SettingsDirectivesQuery): number {
  // @ts-expect-error staleCheckHours may be absent (@include).
  const hours: number = data.settings.staleCheckHours;
  return data.settings.staleCheckHours ?? hours;
}

export function session(data: LoginMutation): string {
  const capabilities: string[] = data.login.operator.capabilities;
  return `${data.login.token} (${capabilities.join(', ')}) until ${data.login.expiresAt}`;
}
