/**
 * The worker's side of the network, which nothing the sandbox reaches through the gateway may
 * land on unless the operator lists it: loopback, private, link-local (cloud metadata), shared,
 * special-use and multicast ranges, and every address of the worker's own interfaces (a host's
 * public address reaches its PostgreSQL or Temporal as well as loopback does). A policy's setup
 * registry and a key-less model upstream are both named by someone other than the operator.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import * as net from 'node:net';
import { networkInterfaces } from 'node:os';
import { Agent, fetch as undiciFetch, type RequestInit as UndiciInit } from 'undici';
import { portOf } from '../../domain/upstream-url';

const RANGES = new net.BlockList();
for (const [address, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 3],
] as const)
  RANGES.addSubnet(address, prefix, 'ipv4');
// IPv6 forms that carry an IPv4 address (compatible, NAT64, 6to4, Teredo) are refused whole.
for (const [address, prefix] of [
  ['::', 96],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001::', 32],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  RANGES.addSubnet(address, prefix, 'ipv6');

/** Whether `address` (an IP literal) is on the worker's side of the network, given its `interfaces` (read now by default: they change). */
export function onWorkerNetwork(address: string, interfaces = networkInterfaces()): boolean {
  const family = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
  return RANGES.check(address, family) || ownAddresses(interfaces).check(address, family);
}

/**
 * The worker's interface addresses, in a list that also matches an IPv4 one written IPv4-mapped
 * (`::ffff:a.b.c.d`), which a dual-stack socket dials as that address.
 */
function ownAddresses(interfaces: ReturnType<typeof networkInterfaces>): net.BlockList {
  const own = new net.BlockList();
  for (const i of Object.values(interfaces).flat())
    if (i) own.addAddress(i.address.split('%')[0], i.family === 'IPv6' ? 'ipv6' : 'ipv4');
  return own;
}

/** Whether `host` (any port) or `host:port` is on the operator's list. */
export function listedHost(list: readonly string[] | undefined, host: string, port: string): boolean {
  return list?.some((entry) => entry === host || entry === `${host}:${port}`) ?? false;
}

/** Why none of `addresses` of `host` may be opened: the first on the worker's network, named. */
export function workerNetworkReason(
  host: string,
  addresses: readonly string[],
  listVariable: string,
): string | undefined {
  const inside = addresses.find((a) => onWorkerNetwork(a));
  if (inside === undefined) return undefined;
  return `${host} is on the worker's own network (${inside}); the operator lists such hosts in ${listVariable}`;
}

/** The error a guarded connection fails with, so the caller can tell the refusal from an outage. */
export const WORKER_NETWORK_CODE = 'ARBITER_WORKER_NETWORK';

/**
 * An HTTP dispatcher whose connections never open an address on the worker's network: the name is
 * resolved once, at connect time, and the addresses checked are the ones dialled, so a name that
 * answers differently on a second lookup changes nothing. An IP literal is not looked up at all:
 * its caller checks it with {@link onWorkerNetwork}.
 */
export function guardedDispatcher(listVariable: string): Agent {
  return new Agent({
    connect: {
      lookup(hostname, options, callback) {
        dnsLookup(hostname, { ...options, all: true }, (err, found: LookupAddress[]) => {
          if (err) return callback(err, '', 4);
          const reason = workerNetworkReason(
            hostname,
            found.map((a) => a.address),
            listVariable,
          );
          if (reason) return callback(Object.assign(new Error(reason), { code: WORKER_NETWORK_CODE }), '', 4);
          // net asks for every address (`all`) when it may try each family in turn.
          if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, found);
          else callback(null, found[0].address, found[0].family);
        });
      },
    },
  });
}

/** The operator's list of key-less model upstreams on the worker's network. */
const UPSTREAMS_VARIABLE = 'ARBITER_PRIVATE_UPSTREAMS';

/** A fetch: the global one, or one whose connections are checked. */
export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

let guardedFetch: Fetch | undefined;

/**
 * A fetch that never opens an address on the worker's network: undici's own, with its own
 * {@link guardedDispatcher} (Node's global fetch refuses a dispatcher of another undici major).
 */
function upstreamFetch(): Fetch {
  if (guardedFetch) return guardedFetch;
  const dispatcher = guardedDispatcher(UPSTREAMS_VARIABLE);
  guardedFetch = async (url, init) =>
    (await undiciFetch(url, { ...(init as UndiciInit), dispatcher })) as unknown as Response;
  return guardedFetch;
}

/**
 * How a call to a key-less upstream at `baseUrl` may be made: refused (an address on the worker's
 * network the operator did not list), with a fetch that checks the address it dials (a name), or
 * with the global fetch (listed, or an address outside). A keyed upstream needs none of this: the
 * operator's rule for its key already names the host it goes to (domain/model-keys.ts).
 */
export function keylessUpstreamReach(
  baseUrl: string,
  listed: readonly string[] | undefined,
): { refused: string } | { fetch: Fetch; guarded: boolean } {
  const url = new URL(baseUrl);
  const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const port = portOf(url);
  if (listedHost(listed, host, port)) return { fetch, guarded: false };
  if (net.isIP(host)) {
    const reason = workerNetworkReason(`${host}:${port}`, [host], UPSTREAMS_VARIABLE);
    return reason ? { refused: reason } : { fetch, guarded: false };
  }
  return { fetch: upstreamFetch(), guarded: true };
}

/**
 * Why a key-less upstream at `baseUrl` cannot be reached, as far as its name resolves now: a run
 * learns it before the agent starts, as a problem of its configuration. The calls themselves are
 * checked where they connect ({@link keylessUpstreamReach}).
 */
export async function keylessUpstreamRefusal(
  baseUrl: string,
  listed: readonly string[] | undefined,
): Promise<string | undefined> {
  const reach = keylessUpstreamReach(baseUrl, listed);
  if ('refused' in reach) return reach.refused;
  if (!reach.guarded) return undefined;
  const url = new URL(baseUrl);
  const found = await lookup(url.hostname, { all: true }).catch(() => []);
  const port = portOf(url);
  return workerNetworkReason(
    `${url.hostname}:${port}`,
    found.map((a) => a.address),
    UPSTREAMS_VARIABLE,
  );
}
