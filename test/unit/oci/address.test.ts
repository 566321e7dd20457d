// The address classifier of outbound containment: every spelling of a non-public address that a URL or a
// DNS answer can carry is recognised as what it reaches.
import { describe, expect, it } from 'vitest';
import { classifyAddress, isBlockedHostName, isContained } from '../../../src/oci/address.ts';

/** The host a URL parser hands the transport: WHATWG URL normalises numeric IPv4 forms and IPv6. */
const hostOf = (authority: string) => new URL(`https://${authority}/`).hostname;

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['100.100.100.200', 'cgnat'], // Alibaba Cloud metadata
    ['169.254.169.254', 'metadata'],
    ['169.254.0.1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['100.128.0.1', 'public'],
    ['169.255.0.1', 'public'],
  ])('IPv4 %s is %s', (ip, kind) => {
    expect(classifyAddress(ip)).toBe(kind);
  });

  it.each([
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fec0::1', 'private'],
    ['fd00:ec2::254', 'metadata'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b::808:808', 'public'],
    ['64:ff9b:1::1', 'private'],
    ['2002:7f00:1::1', 'loopback'],
    ['2002:0808:0808::1', 'public'],
    ['2001:db8::1', 'reserved'],
    ['2001:0:4136:e378::1', 'reserved'],
    ['100::1', 'reserved'],
    ['3fff::1', 'public'],
    ['2a00:1450:4001:81b::200e', 'public'],
    ['2606:4700::6810:84e5', 'public'],
    ['4000::1', 'reserved'],
  ])('IPv6 %s is %s', (ip, kind) => {
    expect(classifyAddress(ip)).toBe(kind);
  });

  // What an attacker can write in a Location header or a realm, and what the transport then sees.
  it.each([
    ['2130706433', 'loopback'], // decimal
    ['0x7f000001', 'loopback'], // hex
    ['0x7f.1', 'loopback'],
    ['017700000001', 'loopback'], // octal
    ['0177.0.0.1', 'loopback'],
    ['127.1', 'loopback'],
    ['127.000.000.001', 'loopback'], // zero-padded (octal zeros)
    ['0251.0376.0251.0376', 'metadata'],
    ['2852039166', 'metadata'],
    ['0xa9.0xfe.0xa9.0xfe', 'metadata'],
    ['0', 'unspecified'],
    ['[::ffff:127.0.0.1]', 'loopback'],
    ['[0:0:0:0:0:ffff:7f00:0001]', 'loopback'],
    ['[::1]', 'loopback'],
    ['[0::1]', 'loopback'],
    ['[fd00:ec2:0::254]', 'metadata'],
    ['[64:ff9b::169.254.169.254]', 'metadata'],
  ])('the URL host %s is classified %s after WHATWG normalisation', (authority, kind) => {
    expect(classifyAddress(hostOf(authority))).toBe(kind);
  });

  it.each(['registry.example.com', '', '1.2.3', '1.2.3.4.5', '::g', '1::2::3', '[::1', '01.2.3.4'])(
    '%j is not an address literal',
    (s) => {
      expect(classifyAddress(s)).toBeUndefined();
    },
  );

  it('contains every class but public', () => {
    expect(isContained('public')).toBe(false);
    for (const k of [
      'loopback',
      'link-local',
      'private',
      'cgnat',
      'metadata',
      'unspecified',
      'multicast',
      'reserved',
    ] as const)
      expect(isContained(k)).toBe(true);
  });
});

describe('isBlockedHostName', () => {
  it.each([
    'localhost',
    'LOCALHOST',
    'foo.localhost',
    'metadata.google.internal',
    'metadata.google.internal.',
    'metadata',
    'metadata.goog',
    'instance-data',
  ])('%s reaches the node or a metadata service by name', (name) => {
    expect(isBlockedHostName(name)).toBe(true);
  });

  it.each(['registry.example.com', 'localhost.example.com', 'metadata.example.com'])('%s is not', (name) => {
    expect(isBlockedHostName(name)).toBe(false);
  });
});
