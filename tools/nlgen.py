#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Writes the qkd module's netlink tables from docs/netlink/qkd.yaml.

    tools/nlgen.py [--check] [REPO]

writes kmod/netlink-gen.c and kmod/netlink-gen.h: the per-operation
policies (every attribute of the family, the ones an operation does not take
as NLA_REJECT with a message naming them), the policies of request nests,
the op table, the multicast groups and the family.  With --check it writes
nothing and exits 1 if either file differs from what the spec gives.

A small, project-specific cousin of the kernel's tools/net/ynl/ynl-gen-c.py
(same spec format, same C names where ynl has a default): it knows the spec
features this family uses and refuses any other.  The 6.1 kernel has no
split ops, so an operation's one policy serves its do and its dump
(kernel-policy: per-op).  Handlers are named qkd_nl_<op> (do) and
qkd_nl_<op>_dump (dump).

uapi_checks() compares include/uapi/linux/qkd.h with the spec: every
constant, enum, attribute, command and group name has the value the spec
gives it.  The header stays hand-written (it carries the limits' and the
errors' documentation); selftests/spec-check.py runs both checks.

Run it with Debian's /usr/bin/python3 (python3-yaml).
"""
import difflib
import os
import re
import sys

import yaml

SPEC = 'docs/netlink/qkd.yaml'
OUT_C = 'kmod/netlink-gen.c'
OUT_H = 'kmod/netlink-gen.h'
UAPI = 'include/uapi/linux/qkd.h'
MAX_COLS = 100


def c_upper(name):
    return name.upper().replace('-', '_')


def c_lower(name):
    return name.lower().replace('-', '_')


class SpecError(Exception):
    pass


class Attr:
    def __init__(self, aset, yml, value):
        self.set = aset
        self.yaml = yml
        self.name = yml['name']
        self.value = value
        self.type = yml['type']
        self.checks = yml.get('checks', {})
        self.nested = yml.get('nested-attributes')
        self.enum = yml.get('enum')
        self.c_name = c_upper(aset.prefix + self.name)


class AttrSet:
    """A set, or a subset (a view on its parent's attributes)."""

    def __init__(self, family, yml):
        self.family = family
        self.yaml = yml
        self.name = yml['name']
        self.parent = yml.get('subset-of')
        self.attrs = {}
        if self.parent:
            return
        self.prefix = yml.get('name-prefix',
                              f'{family.name}-a-' if self.name == family.name
                              else f'{family.name}-{self.name}-a-')
        self.enum_name = c_lower(yml.get('enum-name', f'{family.name}-{self.name}-attrs'))
        self.max_name = c_upper(self.prefix + 'max')
        self.cnt_name = '__' + self.max_name
        value = 0
        for a in yml['attributes']:
            value = a.get('value', value + 1)
            self.attrs[a['name']] = Attr(self, a, value)

    def base(self):
        return self.family.sets[self.parent] if self.parent else self

    def members(self):
        """(attribute, nested set name) for each attribute of this view."""
        if not self.parent:
            return [(a, a.nested) for a in self.attrs.values()]
        base = self.base()
        out = []
        for a in self.yaml['attributes']:
            if a['name'] not in base.attrs:
                raise SpecError(f'{self.name}: {a["name"]} is not in {base.name}')
            if set(a) - {'name', 'nested-attributes'}:
                raise SpecError(f'{self.name}.{a["name"]}: a subset may override '
                                'only nested-attributes')
            attr = base.attrs[a['name']]
            out.append((attr, a.get('nested-attributes', attr.nested)))
        return out


class Family:
    def __init__(self, spec):
        self.spec = spec
        self.name = spec['name']
        if spec.get('kernel-policy') != 'per-op':
            raise SpecError('only kernel-policy: per-op is supported (6.1 has no split ops)')
        self.consts = {}
        self.enums = {}
        for d in spec.get('definitions', []):
            if d['type'] == 'const':
                self.consts[d['name']] = d['value']
            elif d['type'] == 'enum':
                prefix = d.get('name-prefix', f'{self.name}-{d["name"]}-')
                entries, value = [], d.get('value-start', 0)
                for e in d['entries']:
                    if isinstance(e, dict):
                        value = e.get('value', value)
                        e = e['name']
                    entries.append((c_upper(prefix + e), value))
                    value += 1
                self.enums[d['name']] = {'yaml': d, 'entries': entries,
                                         'c_name': c_lower(d.get('enum-name',
                                                                 f'{self.name}-{d["name"]}'))}
            else:
                raise SpecError(f'definition type {d["type"]} not supported')
        self.sets = {}
        for s in spec['attribute-sets']:
            self.sets[s['name']] = AttrSet(self, s)
        ops = spec['operations']
        self.op_prefix = ops.get('name-prefix', f'{self.name}-cmd-')
        self.op_enum = c_lower(ops.get('enum-name', f'{self.name}-cmd'))
        self.ops = []
        value = 0
        for op in ops['list']:
            value = op.get('value', value + 1)
            self.ops.append((op, value, c_upper(self.op_prefix + op['name'])))
        self.mcgrps = spec.get('mcast-groups', {}).get('list', [])

    # -- limits -----------------------------------------------------------

    def limit_value(self, v):
        """The number a check stands for."""
        if isinstance(v, int):
            return v
        m = re.fullmatch(r'([0-9A-Za-z_-]+)( - 1)?', v)
        if not m:
            raise SpecError(f'bad limit {v!r}')
        name, minus = m.group(1), 1 if m.group(2) else 0
        if name in self.consts:
            return self.consts[name] - minus
        m2 = re.fullmatch(r'([su])(8|16|32|64)-(min|max)', name)
        if m2:
            width = int(m2.group(2)) - (m2.group(1) == 's')
            val = 0 if m2.group(1) == 'u' and m2.group(3) == 'min' else (1 << width) - 1
            if m2.group(1) == 's' and m2.group(3) == 'min':
                val = -val - 1
            return val - minus
        raise SpecError(f'limit {v!r} names no constant')

    def limit_c(self, v):
        """The C expression of a check: the UAPI's names where it has one."""
        if isinstance(v, int):
            return str(v)
        m = re.fullmatch(r'([0-9A-Za-z_-]+)( - 1)?', v)
        name = m.group(1)
        c = c_upper(f'{self.name}-{name}') if name in self.consts else c_upper(name)
        return c + (' - 1' if m.group(2) else '')


# -- C rendering ------------------------------------------------------------

def cols(line):
    n = 0
    for ch in line:
        n = (n // 8 + 1) * 8 if ch == '\t' else n + 1
    return n


def indent_to(col):
    return '\t' * (col // 8) + ' ' * (col % 8)


def wrap(line):
    """Break a long line after a comma, aligned with the open parenthesis."""
    if cols(line) <= MAX_COLS:
        return [line]
    depth, opens, cut = 0, [], None
    for i, ch in enumerate(line):
        if ch == '(':
            opens.append(i)
        elif ch == ')':
            opens.pop()
        elif ch == ',' and opens and i + 1 < len(line) and line[i + 1] == ' ':
            if cols(line[:i + 1]) <= MAX_COLS:
                cut = (i, opens[-1])
    if cut is None:
        return [line]
    i, paren = cut
    first = line[:i + 1]
    rest = indent_to(cols(line[:paren + 1])) + line[i + 2:]
    return [first] + wrap(rest)


class Writer:
    def __init__(self):
        self.lines = []

    def p(self, line=''):
        self.lines.extend(wrap(line) if line else [''])

    def text(self):
        return '\n'.join(self.lines) + '\n'


def scalar_policy(fam, attr, nla):
    """NLA_POLICY_* for an integer attribute, and a range struct if needed."""
    checks = dict(attr.checks)
    names = {}
    if attr.enum:
        entries = fam.enums[attr.enum]['entries']
        names = {v: n for n, v in entries}
        checks.setdefault('min', entries[0][1])
        checks.setdefault('max', entries[-1][1])
        if checks['min'] == 0:
            del checks['min']
    unknown = set(checks) - {'min', 'max'}
    if unknown:
        raise SpecError(f'{attr.name}: checks {unknown} not supported for {attr.type}')

    def c(which):
        v = checks[which]
        num = fam.limit_value(v)
        return names.get(num, fam.limit_c(v)) if isinstance(v, int) else fam.limit_c(v)

    if not checks:
        return f'{{ .type = {nla} }}', None
    nums = [fam.limit_value(v) for v in checks.values()]
    if 'min' in checks and 'max' in checks and nums[0] > nums[1]:
        raise SpecError(f'{attr.name}: min above max')
    if min(nums) < -32768 or max(nums) > 32767:
        rng = c_lower(attr.c_name) + '_range'
        body = [f'\t.{k} = {c(k)},' for k in ('min', 'max') if k in checks]
        return f'NLA_POLICY_FULL_RANGE({nla}, &{rng})', (rng, body)
    if 'min' in checks and 'max' in checks:
        return f'NLA_POLICY_RANGE({nla}, {c("min")}, {c("max")})', None
    if 'min' in checks:
        return f'NLA_POLICY_MIN({nla}, {c("min")})', None
    return f'NLA_POLICY_MAX({nla}, {c("max")})', None


def attr_policy(fam, attr, nested):
    """(policy initializer, range struct or None) of an accepted attribute."""
    t, checks = attr.type, attr.checks
    if t in ('u8', 'u16', 'u32', 'u64'):
        return scalar_policy(fam, attr, f'NLA_{c_upper(t)}')
    if t == 'string':
        if set(checks) - {'max-len'}:
            raise SpecError(f'{attr.name}: only max-len is supported for strings')
        if 'max-len' not in checks:
            return '{ .type = NLA_NUL_STRING }', None
        return f'{{ .type = NLA_NUL_STRING, .len = {fam.limit_c(checks["max-len"])} }}', None
    if t == 'binary':
        lc = {k: fam.limit_c(v) for k, v in checks.items()}
        if set(lc) - {'exact-len', 'min-len', 'max-len'}:
            raise SpecError(f'{attr.name}: unsupported binary check')
        if 'exact-len' in lc:
            return f'NLA_POLICY_EXACT_LEN({lc["exact-len"]})', None
        if 'min-len' in lc and 'max-len' in lc:
            return f'NLA_POLICY_RANGE(NLA_BINARY, {lc["min-len"]}, {lc["max-len"]})', None
        if 'min-len' in lc:
            return f'NLA_POLICY_MIN_LEN({lc["min-len"]})', None
        if 'max-len' in lc:
            return f'NLA_POLICY_MAX(NLA_BINARY, {lc["max-len"]})', None
        return '{ .type = NLA_BINARY }', None
    if t == 'flag':
        return '{ .type = NLA_FLAG }', None
    if t == 'nest':
        return f'NLA_POLICY_NESTED({policy_name(fam, nested)})', None
    raise SpecError(f'{attr.name}: type {t} cannot be taken in a request')


def policy_name(fam, set_name):
    name = set_name if set_name == fam.name else f'{fam.name}-{set_name}'
    return c_lower(name) + '_nl_policy'


def reject_name(attr):
    return c_lower(attr.c_name) + '_rej'


def reject_text(fam, attr):
    where = '' if attr.set.name == fam.name else attr.set.name + '.'
    return f'attribute {where}{attr.name} is not taken by this command'


def op_request(op):
    """The attributes a request may carry: do's and dump's, in set order."""
    names = []
    for mode in ('do', 'dump'):
        for a in op.get(mode, {}).get('request', {}).get('attributes', []):
            if a not in names:
                names.append(a)
    return names


def build(fam):
    """The policies: [(name, set, {attr name: (attr, nested)}, extern)]."""
    policies, nests = [], []

    def add_nests(view_members):
        for attr, nested in view_members:
            if attr.type == 'nest' and nested not in nests:
                nests.append(nested)
                add_nests(fam.sets[nested].members())

    for op, _, _ in fam.ops:
        if 'event' in op:
            continue
        view = fam.sets[op['attribute-set']]
        members = {a.name: (a, n) for a, n in view.members()}
        taken = {}
        for name in op_request(op):
            if name not in members:
                raise SpecError(f'{op["name"]}: {name} is not in {view.name}')
            taken[name] = members[name]
        if not taken:
            continue
        add_nests(taken.values())
        policies.append((c_lower(f'{fam.name}-{op["name"]}') + '_nl_policy',
                         view.base(), taken, False))
    nested = []
    for n in nests:
        view = fam.sets[n]
        nested.append((policy_name(fam, n), view.base(),
                       {a.name: (a, m) for a, m in view.members()}, True))
    return nested + policies


def render(fam):
    policies = build(fam)
    ranges, rejects, body = {}, {}, []
    for name, base, taken, extern in policies:
        lines = []
        for attr in base.attrs.values():
            if attr.name in taken and attr.type != 'pad':
                pol, rng = attr_policy(fam, attr, taken[attr.name][1])
                if rng:
                    ranges[rng[0]] = rng[1]
            else:
                rejects[reject_name(attr)] = reject_text(fam, attr)
                pol = f'{{ .type = NLA_REJECT, .reject_message = {reject_name(attr)} }}'
            lines.append(f'\t[{attr.c_name}] = {pol},')
        body.append((name, base, extern, lines))

    c = Writer()
    c.p('// SPDX-License-Identifier: GPL-2.0')
    c.p('/*')
    c.p(f' * Do not edit: written by tools/nlgen.py from {SPEC}')
    c.p(' * (`make netlink-gen` writes it again; selftests/spec-check.py fails when')
    c.p(' * this file is not what the spec gives).')
    c.p(' *')
    c.p(' * Each operation has a policy of every attribute of the family (those')
    c.p(' * that take the same attributes share one): the attributes it does not')
    c.p(' * take are NLA_REJECT with a message naming them, so the core refuses')
    c.p(' * them (EINVAL, with the attribute\'s offset) before any handler runs.')
    c.p(' * Strict validation (resv_start_op) refuses unknown types.')
    c.p(' */')
    c.p('#include <net/genetlink.h>')
    c.p('#include <net/netlink.h>')
    c.p()
    c.p('#include "netlink-gen.h"')
    c.p()
    if ranges:
        c.p('/* Value ranges too wide for NLA_POLICY_RANGE() */')
        for rng, lines in ranges.items():
            c.p(f'static struct netlink_range_validation {rng} = {{')
            for line in lines:
                c.p(line)
            c.p('};')
            c.p()
    c.p('/* Refusals of the attributes an operation does not take */')
    for rej, text in rejects.items():
        line = f'static const char {rej}[] = "{text}";'
        if cols(line) > MAX_COLS:
            c.p(f'static const char {rej}[] =')
            c.p(f'\t"{text}";')
        else:
            c.p(line)
    c.p()
    ops_by_policy = {}
    for op, _, cname in fam.ops:
        ops_by_policy[c_lower(f'{fam.name}-{op["name"]}') + '_nl_policy'] = cname
    # Commands that take the same attributes share one policy, named after
    # the first of them.
    policy_of, users, first = {}, {}, {}
    for name, base, extern, lines in body:
        key = (base.name, extern or name, tuple(lines)) if extern else \
            (base.name, tuple(lines))
        first.setdefault(key, name)
        policy_of[name] = (first[key], base)
        users.setdefault(first[key], []).append(ops_by_policy.get(name))
    for name, base, extern, lines in body:
        if policy_of[name][0] != name:
            continue
        if extern:
            c.p(f'/* Nest: {name[len(fam.name) + 1:-len("_nl_policy")].replace("_", "-")} */')
            c.p(f'const struct nla_policy {name}[{base.max_name} + 1] = {{')
        else:
            c.p(f'/* {", ".join(users[name])} */')
            c.p(f'static const struct nla_policy {name}[{base.max_name} + 1] = {{')
        for line in lines:
            c.p(line)
        c.p('};')
        c.p()

    c.p('static const struct genl_ops qkd_nl_ops[] = {')
    for op, _, cname in fam.ops:
        if 'event' in op:
            continue
        flags = op.get('flags', [])
        if set(flags) - {'admin-perm', 'uns-admin-perm'}:
            raise SpecError(f'{op["name"]}: unknown flags {flags}')
        c.p('\t{')
        c.p(f'\t\t.cmd\t\t= {cname},')
        if flags:
            c.p('\t\t.flags\t\t= ' + ' | '.join(f'GENL_{c_upper(f)}' for f in flags) + ',')
        if 'do' in op:
            c.p(f'\t\t.doit\t\t= {c_lower(fam.name + "-nl-" + op["name"])},')
        if 'dump' in op:
            c.p(f'\t\t.dumpit\t\t= {c_lower(fam.name + "-nl-" + op["name"])}_dump,')
        pname = c_lower(f'{fam.name}-{op["name"]}') + '_nl_policy'
        if pname in policy_of:
            c.p(f'\t\t.policy\t\t= {policy_of[pname][0]},')
            c.p(f'\t\t.maxattr\t= {policy_of[pname][1].max_name},')
        c.p('\t},')
    c.p('};')
    c.p()
    c.p('static const struct genl_multicast_group qkd_nl_mcgrps[] = {')
    for g in fam.mcgrps:
        flags = {'uns-admin-perm': 'GENL_MCAST_CAP_NET_ADMIN',
                 'admin-perm': 'GENL_MCAST_CAP_SYS_ADMIN'}
        c.p(f'\t[{mcgrp_index(fam, g)}] = {{')
        c.p(f'\t\t.name = {mcgrp_define(fam, g)},')
        if g.get('flags'):
            c.p('\t\t.flags = ' + ' | '.join(flags[f] for f in g['flags']) + ',')
        c.p('\t},')
    c.p('};')
    c.p()
    main = fam.sets[fam.name]
    first_op = fam.ops[0][2]
    c.p('struct genl_family qkd_genl_family __ro_after_init = {')
    c.p(f'\t.name\t\t= {c_upper(fam.name)}_FAMILY_NAME,')
    c.p(f'\t.version\t= {c_upper(fam.name)}_FAMILY_VERSION,')
    c.p('\t/* For CTRL_ATTR_MAXATTR only: each operation has its own policy. */')
    c.p(f'\t.maxattr\t= {main.max_name},')
    c.p('\t.netnsok\t= true,')
    c.p('\t/* No genl_mutex: handlers lock for themselves, a take may sleep. */')
    c.p('\t.parallel_ops\t= true,')
    c.p('\t.module\t\t= THIS_MODULE,')
    c.p('\t.ops\t\t= qkd_nl_ops,')
    c.p('\t.n_ops\t\t= ARRAY_SIZE(qkd_nl_ops),')
    c.p('\t/* Strict validation of every operation. */')
    c.p(f'\t.resv_start_op\t= {first_op},')
    c.p('\t.mcgrps\t\t= qkd_nl_mcgrps,')
    c.p('\t.n_mcgrps\t= ARRAY_SIZE(qkd_nl_mcgrps),')
    c.p('};')

    h = Writer()
    h.p('/* SPDX-License-Identifier: GPL-2.0 */')
    h.p(f'/* Do not edit: written by tools/nlgen.py from {SPEC}. */')
    h.p('#ifndef _QKD_NETLINK_GEN_H')
    h.p('#define _QKD_NETLINK_GEN_H')
    h.p()
    h.p('#include <net/genetlink.h>')
    h.p('#include <net/netlink.h>')
    h.p()
    h.p('#include <uapi/linux/qkd.h>')
    h.p()
    h.p('/* Policies of request nests, for handlers that parse them */')
    for name, base, extern, _ in body:
        if extern:
            h.p(f'extern const struct nla_policy {name}[{base.max_name} + 1];')
    h.p()
    h.p('/* The handlers (netlink.c) */')
    for op, _, _ in fam.ops:
        fn = c_lower(fam.name + '-nl-' + op['name'])
        if 'do' in op:
            h.p(f'int {fn}(struct sk_buff *skb, struct genl_info *info);')
        if 'dump' in op:
            h.p(f'int {fn}_dump(struct sk_buff *skb, struct netlink_callback *cb);')
    h.p()
    h.p('/* Multicast groups, by index in the family */')
    h.p('enum qkd_mcgrp {')
    for g in fam.mcgrps:
        h.p(f'\t{mcgrp_index(fam, g)},')
    h.p('};')
    h.p()
    h.p('extern struct genl_family qkd_genl_family;')
    h.p()
    h.p('#endif /* _QKD_NETLINK_GEN_H */')
    return c.text(), h.text()


def mcgrp_define(fam, g):
    return c_upper(g.get('c-define-name', f'{fam.name}-mcgrp-{g["name"]}'))


def mcgrp_index(fam, g):
    return mcgrp_define(fam, g) + '_ID'


# -- the UAPI header --------------------------------------------------------

def header_enum(hdr, name):
    m = re.search(r'enum %s \{(.*?)\};' % re.escape(name), hdr, re.S)
    if not m:
        return None
    vals, n = {}, 0
    body = re.sub(r'/\*.*?\*/', '', m.group(1), flags=re.S)
    for item in body.split(','):
        item = item.strip()
        if not item:
            continue
        mm = re.fullmatch(r'(\w+)(?:\s*=\s*(.+))?', item, re.S)
        if not mm:
            return None
        if mm.group(2) is not None:
            rhs = mm.group(2).strip()
            n = vals[rhs] if rhs in vals else None
            if n is None:
                mm2 = re.fullmatch(r'(\w+)\s*-\s*1', rhs)
                n = vals[mm2.group(1)] - 1 if mm2 and mm2.group(1) in vals else int(rhs, 0)
        vals[mm.group(1)] = n
        n += 1
    return vals


def header_defines(hdr):
    out = {}
    for name, val in re.findall(r'#define\s+(QKD_\w+)\s+(.+?)\s*(?:/\*.*)?$', hdr, re.M):
        val = val.strip()
        m = re.fullmatch(r'\(?(\d+)U?(?: << (\d+))?\)?', val)
        if m:
            out[name] = int(m.group(1)) << int(m.group(2) or 0)
        elif re.fullmatch(r'"[^"]*"', val):
            out[name] = val[1:-1]
        else:
            out[name] = val
    return out


def uapi_checks(fam, hdr):
    """[(description, ok, detail)] of the header against the spec."""
    res = []
    defines = header_defines(hdr)

    def check(desc, ok, detail=''):
        res.append((desc, bool(ok), detail))

    up = c_upper(fam.name)
    check('family name', defines.get(f'{up}_FAMILY_NAME') == fam.name,
          f'{up}_FAMILY_NAME={defines.get(up + "_FAMILY_NAME")!r}')
    version = fam.spec.get('version', 1)
    check('family version', defines.get(f'{up}_FAMILY_VERSION') == version,
          f'{up}_FAMILY_VERSION={defines.get(up + "_FAMILY_VERSION")} spec={version}')
    for name, value in fam.consts.items():
        cname = c_upper(f'{fam.name}-{name}')
        check(f'const {name}', defines.get(cname) == value,
              f'{cname}={defines.get(cname)} spec={value}')
    for name, e in fam.enums.items():
        vals = header_enum(hdr, e['c_name'])
        if vals is None:
            check(f'enum {name}', False, f'no enum {e["c_name"]} in the header')
            continue
        for cname, value in e['entries']:
            check(f'enum {name} {cname}', vals.get(cname) == value,
                  f'{cname}={vals.get(cname)} spec={value}')
        extra = set(vals) - {n for n, _ in e['entries']}
        if e['yaml'].get('render-max'):
            prefix = e['yaml'].get('name-prefix', f'{fam.name}-{name}-')
            mx = c_upper(prefix + 'max')
            last = e['entries'][-1][1]
            check(f'enum {name} max', vals.get(mx) == last and vals.get('__' + mx) == last + 1,
                  f'{mx}={vals.get(mx)} spec={last}')
            extra -= {mx, '__' + mx}
        check(f'enum {name} lists nothing else', not extra, f'header only: {sorted(extra)}')
    for s in fam.sets.values():
        if s.parent:
            continue
        vals = header_enum(hdr, s.enum_name)
        if vals is None:
            check(f'attribute set {s.name}', False, f'no enum {s.enum_name} in the header')
            continue
        for a in s.attrs.values():
            check(f'attribute {s.name}.{a.name}', vals.get(a.c_name) == a.value,
                  f'{a.c_name}={vals.get(a.c_name)} spec={a.value}')
        last = max(a.value for a in s.attrs.values())
        check(f'attribute set {s.name} max', vals.get(s.max_name) == last and
              vals.get(s.cnt_name) == last + 1, f'{s.max_name}={vals.get(s.max_name)} spec={last}')
        unspec = c_upper(s.prefix + 'unspec')
        extra = set(vals) - {a.c_name for a in s.attrs.values()} - \
            {s.max_name, s.cnt_name, unspec}
        check(f'attribute set {s.name} lists every attribute', not extra and vals.get(unspec) == 0,
              f'header only: {sorted(extra)}')
    cmds = header_enum(hdr, fam.op_enum)
    if cmds is None:
        check('commands', False, f'no enum {fam.op_enum} in the header')
    else:
        for op, value, cname in fam.ops:
            check(f'operation {op["name"]}', cmds.get(cname) == value,
                  f'{cname}={cmds.get(cname)} spec={value}')
        mx = c_upper(fam.op_prefix + 'max')
        unspec = c_upper(fam.op_prefix + 'unspec')
        last = fam.ops[-1][1]
        extra = set(cmds) - {c for _, _, c in fam.ops} - {mx, '__' + mx, unspec}
        check('commands: no other, max', not extra and cmds.get(mx) == last,
              f'header only: {sorted(extra)} {mx}={cmds.get(mx)}')
    for g in fam.mcgrps:
        cname = mcgrp_define(fam, g)
        check(f'multicast group {g["name"]}', defines.get(cname) == g['name'],
              f'{cname}={defines.get(cname)!r}')
    return res


# -- main -------------------------------------------------------------------

def load(repo):
    with open(os.path.join(repo, SPEC)) as f:
        return Family(yaml.safe_load(f))


def outputs(repo):
    """{path: text} of the files the spec gives."""
    c, h = render(load(repo))
    return {OUT_C: c, OUT_H: h}


def stale(repo):
    """[(path, unified diff)] of generated files that differ from the spec."""
    out = []
    for path, want in outputs(repo).items():
        try:
            with open(os.path.join(repo, path)) as f:
                have = f.read()
        except FileNotFoundError:
            have = ''
        if have != want:
            diff = difflib.unified_diff(have.splitlines(True), want.splitlines(True),
                                        f'a/{path}', f'b/{path} (from {SPEC})')
            out.append((path, ''.join(diff)))
    return out


def main(argv):
    args = [a for a in argv if not a.startswith('--')]
    check = '--check' in argv
    repo = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    if check:
        bad = stale(repo)
        for path, diff in bad:
            sys.stdout.write(f'{path} is not what {SPEC} gives:\n{diff}')
        return 1 if bad else 0
    for path, text in outputs(repo).items():
        full = os.path.join(repo, path)
        try:
            with open(full) as f:
                if f.read() == text:
                    continue
        except FileNotFoundError:
            pass
        with open(full, 'w') as f:
            f.write(text)
        print(f'  GEN     {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
