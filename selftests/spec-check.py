#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Host test: docs/netlink/qkd.yaml and include/uapi/linux/qkd.h agree.

Every command, attribute (per set) and constant of the spec must have the
value the UAPI header gives it, so that the written spec cannot drift from
the one definition that the kernel and userspace compile against.
Prints TAP."""
import re
import sys
import yaml

REPO = sys.argv[1] if len(sys.argv) > 1 else '.'
spec = yaml.safe_load(open(f'{REPO}/docs/netlink/qkd.yaml'))
hdr = open(f'{REPO}/include/uapi/linux/qkd.h').read()

defines = dict(re.findall(r'#define\s+(QKD_\w+)\s+\(?(\d+)U?\)?', hdr))
# 4U << 20 style values
for name, a, b in re.findall(r'#define\s+(QKD_\w+)\s+\((\d+)U << (\d+)\)', hdr):
    defines[name] = str(int(a) << int(b))


def enum_values(enum_name):
    body = re.search(r'enum %s \{(.*?)\};' % enum_name, hdr, re.S).group(1)
    vals, n = {}, 0
    for line in body.splitlines():
        m = re.match(r'\s*(\w+)(\s*=\s*(\d+))?,', line)
        if not m:
            continue
        n = int(m.group(3)) if m.group(3) else n
        vals[m.group(1)] = n
        n += 1
    return vals


def c_name(prefix, name):
    return prefix + name.upper().replace('-', '_')


results = []


def check(desc, ok, detail=''):
    results.append((desc, ok, detail))


for d in spec['definitions']:
    if d['type'] == 'const':
        cname = c_name('QKD_', d['name'])
        check(f'const {d["name"]}', defines.get(cname) == str(d['value']),
              f'{cname}={defines.get(cname)} spec={d["value"]}')

sets = {'qkd': ('qkd_attr', 'QKD_A_'), 'key': ('qkd_key_attr', 'QKD_KEY_A_'),
        'stats': ('qkd_stats_attr', 'QKD_STATS_A_'),
        'audit': ('qkd_audit_attr', 'QKD_AUDIT_A_')}
for s in spec['attribute-sets']:
    enum, prefix = sets[s['name']]
    vals = enum_values(enum)
    n = 0
    for a in s['attributes']:
        n = a.get('value', n + 1 if n else 1)
        cname = c_name(prefix, a['name'])
        check(f'attribute {s["name"]}.{a["name"]}', vals.get(cname) == n,
              f'{cname}={vals.get(cname)} spec={n}')
    declared = [k for k in vals if not k.startswith('__') and
                not k.endswith('_MAX') and not k.endswith('_UNSPEC')]
    check(f'attribute set {s["name"]} lists every attribute',
          len(declared) == len(s['attributes']),
          f'header {len(declared)} spec {len(s["attributes"])}')
    # Range checks in the spec match the header's limits where named.
    for a in s['attributes']:
        for k, v in a.get('checks', {}).items():
            check(f'{s["name"]}.{a["name"]} check {k} is a number',
                  isinstance(v, int))

cmds = enum_values('qkd_cmd')
n = 0
for op in spec['operations']['list']:
    n = op.get('value', n + 1)
    cname = c_name('QKD_CMD_', op['name'])
    check(f'operation {op["name"]}', cmds.get(cname) == n,
          f'{cname}={cmds.get(cname)} spec={n}')
    if 'event' not in op:
        check(f'operation {op["name"]} needs uns-admin-perm',
              'uns-admin-perm' in op.get('flags', []))

for i, (desc, ok, detail) in enumerate(results, 1):
    print(f'{"ok" if ok else "not ok"} {i} - {desc}' +
          ('' if ok else f'  # {detail}'))
print(f'1..{len(results)}')
sys.exit(0 if all(ok for _, ok, _ in results) else 1)
