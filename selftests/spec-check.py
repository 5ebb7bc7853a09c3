#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Host test: docs/netlink/qkd.yaml is the source of truth, and nothing
has drifted from it.

- the spec is valid against the kernel's genetlink-legacy schema (a copy
  in docs/netlink/schema/);
- kmod/netlink-gen.c and kmod/netlink-gen.h (the per-operation policies,
  the op table and the family) are exactly what tools/nlgen.py writes from
  the spec: a range, a length or an operation's attribute list changed on
  one side only fails here;
- include/uapi/linux/qkd.h gives every constant, enum entry, attribute,
  command and group the value the spec gives it;
- no other policy exists in the module, every command and the group need
  uns-admin-perm.

Needs Debian's python3-yaml and python3-jsonschema (run it with
/usr/bin/python3).  Prints TAP."""
import glob
import importlib.util
import os
import re
import sys

import jsonschema
import yaml

REPO = sys.argv[1] if len(sys.argv) > 1 else '.'
SCHEMA = 'docs/netlink/schema/genetlink-legacy.yaml'

gen_spec = importlib.util.spec_from_file_location(
    'nlgen', os.path.join(REPO, 'tools/nlgen.py'))
nlgen = importlib.util.module_from_spec(gen_spec)
gen_spec.loader.exec_module(nlgen)

results = []


def check(desc, ok, detail=''):
    results.append((desc, bool(ok), detail))


with open(os.path.join(REPO, nlgen.SPEC)) as f:
    spec = yaml.safe_load(f)
with open(os.path.join(REPO, SCHEMA)) as f:
    schema = yaml.safe_load(f)

errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(spec),
                key=lambda e: list(e.path))
check(f'spec is valid against {SCHEMA}', not errors,
      '; '.join(f'{"/".join(map(str, e.path))}: {e.message}' for e in errors[:5]))

try:
    family = nlgen.Family(spec)
    nlgen.render(family)
    check('the generator accepts the spec', True)
except nlgen.SpecError as e:
    family = None
    check('the generator accepts the spec', False, str(e))

if family:
    stale = dict(nlgen.stale(REPO))
    for path in (nlgen.OUT_C, nlgen.OUT_H):
        diff = stale.get(path, '')
        check(f'{path} is what tools/nlgen.py writes from the spec', not diff,
              'run `make netlink-gen`\n' + '\n'.join('# ' + line for line in
                                                     diff.splitlines()[:40]))

    with open(os.path.join(REPO, nlgen.UAPI)) as f:
        hdr = f.read()
    for desc, ok, detail in nlgen.uapi_checks(family, hdr):
        check(f'uapi: {desc}', ok, detail)

    for op, _, _ in family.ops:
        if 'event' not in op:
            check(f'operation {op["name"]} needs uns-admin-perm',
                  'uns-admin-perm' in op.get('flags', []))
    for g in family.mcgrps:
        check(f'group {g["name"]} needs uns-admin-perm',
              'uns-admin-perm' in g.get('flags', []))

# The generated tables are the only policies: a policy written by hand
# elsewhere in the module would escape every check above.
for path in sorted(glob.glob(os.path.join(REPO, 'kmod', '*.[ch]'))):
    name = os.path.basename(path)
    if name.startswith('netlink-gen.') or name.endswith('.mod.c'):
        continue
    with open(path) as f:
        src = f.read()
    found = re.findall(r'struct nla_policy\s+\w+\s*\[|\.policy\s*=|\.maxattr\s*=', src)
    check(f'kmod/{name} defines no policy of its own', not found, f'found {found}')

for i, (desc, ok, detail) in enumerate(results, 1):
    print(f'{"ok" if ok else "not ok"} {i} - {desc}' +
          ('' if ok else f'  # {detail}'))
print(f'1..{len(results)}')
sys.exit(0 if all(ok for _, ok, _ in results) else 1)
