#!/usr/bin/env python3
"""openprof.py - the tables of "where an open+close goes" (issue 16).

  openprof.py tables DIR [--only cpu,stat,count,ev,trace,rank,syscall]
  openprof.py classify PREFIX [--cross]
  openprof.py chains PREFIX KIND [TOP]
  openprof.py returns PREFIX

bench/openprof/batch.sh measures an npipe open+close cycle (and the AF_UNIX
baseline) many times, each run by bench/openprof/run.sh into files
DIR/runs/{n,u}-KIND-ROUND.*; this script turns them into the Markdown tables
of docs/performance.md.  A PREFIX is one run, e.g. DIR/runs/n-record-1.

tables    every table, medians [min-max] over the runs, per cycle:
            cpu      CPU of client, server and broker with no tool attached
                     (schedstat snapshots of the `none` runs) and the rate
            stat     perf stat: task-clock, switches, migrations, faults,
                     system calls (`stat` runs)
            count    system calls by kind (`count` runs, exact)
            ev       scheduler, fault, IPI and TLB-flush tracepoints (`ev`)
            trace    perf trace -s: calls and wall time per system call
            rank     the CPU by kind of work, ranked, npipe beside AF_UNIX,
                     and the same per thread (`record` runs, classified)
            syscall  the sampled CPU by system call (`record` runs)
classify  one `record` run: runs perf script on PREFIX.perf.data for the
          run's three processes (kept as PREFIX.script), classifies every
          sample by its call chain, writes PREFIX.script.json (what `tables`
          reads; made on demand by it) and prints us per cycle by entry
          (system call, fault, interrupt, user code), by kind of work and by
          thread; --cross also prints kind x entry.
chains    the kernel call chains of the samples of one kind or entry (as
          classify prints them), most frequent first: to check a rule.
returns   the samples that land right after a system call in a libc
          wrapper (user side) and those in the kernel's entry/exit code,
          by wrapper: how much the return from each call costs.

Why classify by call chain: on a PVM guest (and other paravirtual guests)
only cpu-clock sampling is available, and a timer interrupt that arrives
while the guest kernel has interrupts off, or while the host works for the
guest, is taken when the guest enables interrupts again (pvm_irq_enable) or
is back in user mode.  A list of leaf symbols then says where interrupts
were re-enabled, not where the time went; the chain above the leaf does.
The rules (KINDS below) look for the first matching function anywhere in
the kernel part of the chain, in order: TLB flush before context switch
before waking before the system call's own work, and so on.  User samples
in np_seg_init/np_seg_check are the return of the segment's first page
faults; a user sample right after the syscall instruction of a call that
can sleep is the return from sleeping, counted as context switch.

Needs python3 and, for classify (and tables on runs not yet classified),
perf.  Times are us of sampled CPU per cycle: sampling adds its own cost
(about 10-15 % at 2 kHz) and on a loaded machine they move between runs;
the counts are exact.
"""
import collections
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

ROLES = ('client', 'server', 'broker')


def need_perf():
    if not shutil.which('perf') or subprocess.run(['perf', '--version'], stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.DEVNULL).returncode != 0:
        sys.exit('openprof.py: perf is missing or does not run (Debian: apt-get install linux-perf)')


# ---- one run's files ----------------------------------------------------------------------------

def ncyc(prefix):
    if not os.path.exists(prefix + '.rate'):
        sys.exit('openprof.py: %s.rate not found (PREFIX is DIR/runs/MODE-KIND-ROUND)' % prefix)
    return int(open(prefix + '.rate').readline().split()[0])


def rate(prefix):
    return float(open(prefix + '.rate').readline().split()[4])


def pids(prefix):
    """role -> pid, from PREFIX.pids ("server P client P broker [P]")"""
    f = open(prefix + '.pids').read().split()
    return {r: p for r, p in zip(f[0::2], f[1::2]) if p}


def snap(prefix):
    """role -> (CPU us per cycle, voluntary and involuntary switches per cycle)"""
    n = ncyc(prefix)
    a = {line.split()[0]: line.split() for line in open(prefix + '.snap0')}
    b = {line.split()[0]: line.split() for line in open(prefix + '.snap1')}
    return {r: ((int(b[r][1]) - int(a[r][1])) / 1000 / n, (int(b[r][4]) - int(a[r][4])) / n,
                (int(b[r][5]) - int(a[r][5])) / n) for r in a}


def perfcsv(path):
    """event -> count from perf stat -x, output; a repeated event (tlb:tlb_flush
    with one filter each) becomes EVENT#K for its K-th repetition (K >= 1)"""
    out, seen = collections.OrderedDict(), collections.Counter()
    for line in open(path):
        f = line.strip().split(',')
        if len(f) > 3 and re.match(r'^[0-9.]+$', f[0]):
            key = f[2] if not seen[f[2]] else '%s#%d' % (f[2], seen[f[2]])
            seen[f[2]] += 1
            out[key] = float(f[0])
    return out


def parse_trace(path):
    """perf trace -s: syscall -> [calls, errors, total msec], summed over threads"""
    out = collections.defaultdict(lambda: [0, 0, 0.0])
    for line in open(path):
        m = re.match(r'^\s+(\w+)\s+(\d+)\s+(\d+)\s+([0-9.]+)\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+', line)
        if m:
            o = out[m.group(1)]
            o[0] += int(m.group(2))
            o[1] += int(m.group(3))
            o[2] += float(m.group(4))
    return out


# ---- classifying the samples of a record run ----------------------------------------------------

def perf_script(prefix):
    """PREFIX.script: perf script of the run's processes (made once)"""
    path = prefix + '.script'
    if not os.path.exists(path):
        if not os.path.exists(prefix + '.perf.data') or not os.path.exists(prefix + '.pids'):
            sys.exit('openprof.py: %s is not a record run (no %s.perf.data or .pids)' % (prefix, prefix))
        need_perf()
        with open(path + '.tmp', 'w') as f:
            subprocess.run(['perf', 'script', '-i', prefix + '.perf.data', '--pid', ','.join(pids(prefix).values()),
                            '-F', 'comm,pid,tid,period,ip,sym,dso'], stdout=f, stderr=subprocess.DEVNULL, check=True)
        os.rename(path + '.tmp', path)
    return path


def samples(path):
    """(header line, [(symbol, dso)] leaf first) for every sample of perf script"""
    head, frames = None, []
    for line in open(path, errors='replace'):
        if not line.strip():
            if head:
                yield head, frames
            head, frames = None, []
            continue
        if not line[0].isspace():
            head, frames = line, []
        else:
            m = re.match(r'\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$', line)
            if m:
                frames.append((m.group(2), m.group(3)))
    if head:
        yield head, frames


# libc's system call wrappers: a user sample in one of them is the return from the call
WRAP = re.compile(r'^(__GI___)?(__)?(libc_)?(syscall|sendmsg|recvmsg|__libc_sendmsg|__libc_recvmsg|close|__close|__libc_close|mmap|mmap64|__mmap|munmap|__munmap|madvise|__madvise|fcntl|fcntl64|__fcntl64_nocancel_adjusted|__libc_fcntl64|ftruncate|ftruncate64|__ftruncate64|memfd_create|fstatat|fstatat64|__fstatat64|__fstat64|fstat|epoll_wait|__epoll_wait|sched_yield|__sched_yield|read|write|__libc_read|__libc_write|socket|__socket|connect|__libc_connect|accept4|__libc_accept4|clock_nanosleep|__clock_nanosleep|futex_wait|__futex_abstimed_wait_common|__futex_abstimed_wait_common64|lll_lock_wait|__lll_lock_wait|__lll_lock_wake|lll_lock_wake|__lll_lock_wake_private|__lll_lock_wait_private|__GI___lll_lock_wait|__GI___lll_lock_wake|open|__libc_open64|openat64|__open64_nocancel|newfstatat)(\.localalias)?$')

# the wrappers of calls that can sleep: returning from them is returning from a switch
BLOCKING = re.compile(r'^(__libc_recvmsg|recvmsg|syscall|epoll_wait|__epoll_wait|__sched_yield|sched_yield|__GI___lll_lock_wait|__lll_lock_wait|__futex_abstimed_wait_common.*|accept4|__libc_accept4|read|__libc_read|__GI___libc_read|clock_nanosleep|__clock_nanosleep)$')

IRQ_ENABLE = ('pvm_irq_enable', '__raw_callee_save_pvm_irq_enable')


def syscall_of(ks):
    """the system call of a kernel chain ks (leaf first), None outside one"""
    if 'do_syscall_64' not in ks:
        return None
    i = ks.index('do_syscall_64')
    if i == 0:
        return '(entry/exit)'
    if ks[:i] and all(f in IRQ_ENABLE for f in ks[:i]):
        return '(entry/exit)'
    m = re.match(r'^(__x64_sys_|__ia32_sys_|__se_sys_|__do_sys_|__sys_|ksys_)(\w+)$', ks[i - 1])
    if m:
        return m.group(2)
    # inlined helpers between: the nearest sys frame below do_syscall_64
    for f in reversed(ks[:i]):
        m = re.match(r'^(__x64_sys_|__do_sys_|__se_sys_|__sys_)(\w+)$', f)
        if m:
            return m.group(2)
    for f in reversed(ks[:i]):
        if f.startswith('ksys_'):
            return f[5:]
    if any(f in ('syscall_exit_to_user_mode', 'exit_to_user_mode_loop', 'arch_exit_to_user_mode_prepare') for f in ks[:i]):
        return '(exit to user)'
    return '(entry/exit)'


def has(ks, names):
    return any(f in names for f in ks)


def hasp(ks, prefixes):
    return any(f.startswith(p) for f in ks for p in prefixes)


def entry(ks, frames):
    """how the sample entered the kernel (system call, fault, interrupt), or which user code"""
    if not ks:
        sym, dso = frames[0] if frames else ('?', '?')
        if 'libc' in dso and WRAP.match(sym):
            return 'user: syscall return (libc wrapper)'
        d = dso.rsplit('/', 1)[-1]
        if d.startswith('libnpipe'):
            d = 'libnpipe'
        elif d.startswith('libc'):
            d = 'libc'
        return 'user: ' + d
    s = syscall_of(ks)
    if s:
        return 'sys ' + s
    if 'asm_exc_page_fault' in ks:
        return 'page fault'
    if hasp(ks, ['asm_sysvec_call_function']):
        return 'irq: IPI call-function (TLB shootdown, receiver)'
    if hasp(ks, ['asm_sysvec_reschedule']):
        return 'irq: resched IPI'
    if hasp(ks, ['asm_sysvec_apic_timer', 'asm_sysvec_']):
        return 'irq: other (timer, ...)'
    if hasp(ks, ['asm_common_interrupt', 'common_interrupt']):
        return 'irq: device'
    if 'ret_from_fork' in ks or 'ret_from_fork_asm' in ks:
        return 'kernel: new thread'
    return 'kernel: other (%s)' % (ks[-1] if ks else '?')


# kinds of kernel work: the first rule that matches the chain wins
KINDS = [
    ('TLB flush / shootdown (sender)', lambda k: has(k, {'flush_tlb_mm_range', 'native_flush_tlb_multi', 'flush_tlb_multi', 'pvm_flush_tlb_multi', 'arch_tlbbatch_flush', 'smp_call_function_many_cond', 'on_each_cpu_cond_mask', 'tlb_flush_mmu', 'flush_tlb_func'}) and not has(k, {'asm_sysvec_call_function', 'asm_sysvec_call_function_single'})),
    ('IPI received (TLB flush on the other side)', lambda k: hasp(k, ['asm_sysvec_call_function'])),
    ('sleep: schedule / context switch', lambda k: has(k, {'__schedule', 'schedule', 'finish_task_switch.isra.0', 'finish_task_switch'})),
    ('wake another thread (try_to_wake_up)', lambda k: has(k, {'try_to_wake_up', 'wake_up_q', 'ttwu_do_activate', 'wake_up_process', 'select_task_rq_fair', 'sock_def_readable', 'unix_write_space', '__wake_up_sync_key', '__wake_up_common_lock', '__wake_up', '__wake_up_common', 'ep_poll_callback', 'sock_def_wakeup', 'unix_dgram_peer_wake_relay'}) or hasp(k, ['ttwu_'])),
    ('page fault (shmem first touch, map)', lambda k: 'asm_exc_page_fault' in k),
    ('munmap (unmap, free page tables)', lambda k: has(k, {'__x64_sys_munmap', '__vm_munmap', 'do_vmi_munmap', 'vms_complete_munmap_vmas'})),
    ('mmap', lambda k: has(k, {'__x64_sys_mmap', 'ksys_mmap_pgoff', 'vm_mmap_pgoff', 'do_mmap', 'mmap_region'})),
    ('madvise', lambda k: has(k, {'__x64_sys_madvise', 'do_madvise'})),
    ('memfd_create + ftruncate (shmem inode)', lambda k: has(k, {'__x64_sys_memfd_create', '__do_sys_memfd_create', '__x64_sys_ftruncate', 'do_ftruncate', 'do_sys_ftruncate'})),
    ('close -> fput -> file/inode release', lambda k: has(k, {'__fput', '____fput', 'task_work_run', 'fput', 'fput_close_sync', 'shmem_evict_inode', '__x64_sys_close', 'file_close_fd', 'filp_flush'})),
    ('fd passing (SCM_RIGHTS attach/detach/install)', lambda k: has(k, {'unix_attach_fds', 'unix_detach_fds', 'scm_detach_fds', '__scm_send', 'scm_fp_copy', 'receive_fd', '__scm_destroy', 'unix_destruct_scm', 'scm_fp_dup', 'fd_install', '__scm_install_fd', 'scm_recv_unix', 'unix_peek_fds', 'unix_inflight', 'unix_notinflight', 'unix_add_edges', 'unix_del_edges', 'unix_schedule_gc', 'scm_recv'})),
    ('fcntl (seals) / fstat', lambda k: has(k, {'__x64_sys_fcntl', '__x64_sys_newfstatat', '__do_sys_newfstatat', 'vfs_fstatat', 'do_fcntl'})),
    ('socket: AF_UNIX send/recv (skb)', lambda k: has(k, {'__x64_sys_sendmsg', '__x64_sys_recvmsg', '__sys_sendmsg', '__sys_recvmsg', '___sys_sendmsg', '___sys_recvmsg', 'unix_stream_sendmsg', 'unix_seqpacket_sendmsg', 'unix_dgram_sendmsg'})),
    ('socket: socket/connect/accept/close (AF_UNIX set-up)', lambda k: has(k, {'__x64_sys_socket', '__x64_sys_connect', '__x64_sys_accept4', '__sys_socket', '__sys_connect', '__sys_accept4', 'unix_stream_connect', 'unix_release', 'sock_close', '__x64_sys_read', 'ksys_read'})),
    ('epoll_wait', lambda k: has(k, {'__x64_sys_epoll_wait', 'do_epoll_wait', 'ep_poll'})),
    ('futex (no sleep, no wake)', lambda k: has(k, {'__x64_sys_futex', 'do_futex'})),
    ('sched_yield', lambda k: has(k, {'__x64_sys_sched_yield', 'do_sched_yield'})),
    ('syscall entry/exit (kernel side)', lambda k: 'do_syscall_64' in k or 'entry_SYSCALL_64_after_hwframe' in k),
]


def kind(ks, frames):
    """the kind of work of a sample"""
    if not ks:
        e = entry(ks, frames)
        if frames and frames[0][0] in ('np_seg_init', 'np_seg_check'):
            return 'page fault (shmem first touch, map)'
        if frames and frames[0][0].startswith('np_conn_wait_for'):
            return 'user: spin-wait for the peer (np_conn_wait_for)'
        if e == 'user: syscall return (libc wrapper)':
            if BLOCKING.match(frames[0][0]):
                return 'sleep: schedule / context switch'
            return 'syscall entry/exit (user side: return point)'
        return 'user code (%s)' % e[6:]
    for name, rule in KINDS:
        if rule(ks):
            return name
    return 'kernel: other'


# wrapper symbol (substring) -> system call, for the samples at a wrapper's return
WMAP = [('recvmsg', 'recvmsg'), ('sendmsg', 'sendmsg'), ('munmap', 'munmap'), ('mmap', 'mmap'), ('fcntl', 'fcntl'),
        ('fstat', 'newfstatat'), ('close', 'close'), ('madvise', 'madvise'), ('memfd_create', 'memfd_create'),
        ('ftruncate', 'ftruncate'), ('epoll_wait', 'epoll_wait'), ('sched_yield', 'sched_yield'), ('lll_lock', 'futex'),
        ('futex', 'futex'), ('accept4', 'accept4'), ('connect', 'connect'), ('socket', 'socket'), ('read', 'read'),
        ('write', 'write'), ('open', 'openat'), ('clock_nanosleep', 'clock_nanosleep'), ('syscall', 'futex')]


def wrapper_sys(frames):
    for sym, dso in frames:
        if dso != '[kernel.kallsyms]':
            for pat, name in WMAP:
                if pat in sym:
                    return name
            return None
    return None


def sys_of(ks, frames):
    """the system call a sample belongs to (its entry, work and return), or its entry"""
    e = entry(ks, frames)
    if e.startswith('sys '):
        n = e[4:]
        if n.startswith('('):
            return wrapper_sys(frames) or n
        return {'mmap_pgoff': 'mmap'}.get(n, n)
    if e == 'user: syscall return (libc wrapper)':
        return wrapper_sys(frames) or '?'
    return e


def run_samples(prefix):
    """(role, comm, kernel chain, frames, period) of the run's processes' samples"""
    roles = {int(p): r for r, p in pids(prefix).items()}
    for head, frames in samples(perf_script(prefix)):
        f = head.split()
        r = roles.get(int(f[1].split('/')[0]))
        if r is not None:
            yield r, f[0], [s for s, d in frames if d == '[kernel.kallsyms]'], frames, int(f[2])


def classify(prefix):
    """classify a record run's samples; writes and returns PREFIX.script.json"""
    n = ncyc(prefix)
    acc = {k: collections.defaultdict(collections.Counter) for k in ('entry', 'kind', 'thread', 'tkind', 'sysc', 'cross')}
    nsamp = collections.Counter()
    for r, comm, ks, frames, period in run_samples(prefix):
        e, k = entry(ks, frames), kind(ks, frames)
        acc['entry'][r][e] += period
        acc['kind'][r][k] += period
        acc['thread'][r][comm] += period
        acc['tkind'][r + '/' + comm][k] += period
        acc['sysc'][r][sys_of(ks, frames)] += period
        acc['cross'][r]['%s||%s' % (e, k)] += period
        nsamp[r] += 1
    res = {key: {r: dict(c) for r, c in v.items()} for key, v in acc.items()}
    res['n'] = n
    res['samples'] = dict(nsamp)
    json.dump(res, open(prefix + '.script.json', 'w'))
    return res


def cmd_classify(args):
    if not args or args[0].startswith('-') or any(a != '--cross' for a in args[1:]):
        usage()
    prefix = args[0]
    res = classify(prefix)
    n = res['n']
    for title, key in (('by entry', 'entry'), ('by kind', 'kind'), ('by thread', 'thread')):
        tab = res[key]
        print('==', title, '(us per cycle)')
        rs = [r for r in ROLES if r in tab]
        keys = sorted(set(k for r in rs for k in tab[r]), key=lambda k: -sum(tab[r].get(k, 0) for r in rs))
        print('%-55s' % '' + ''.join('%10s' % r for r in rs) + '%10s' % 'total')
        for k in keys:
            v = [tab[r].get(k, 0) / 1000 / n for r in rs]
            print('%-55s' % k[:55] + ''.join('%10.1f' % x for x in v) + '%10.1f' % sum(v))
        v = [sum(tab[r].values()) / 1000 / n for r in rs]
        print('%-55s' % 'TOTAL' + ''.join('%10.1f' % x for x in v) + '%10.1f' % sum(v))
    if '--cross' in args:
        print('== kind x entry (us per cycle, rows of 1 us or more)')
        for r in ROLES:
            if r not in res['cross']:
                continue
            print('--', r)
            for key, v in sorted(res['cross'][r].items(), key=lambda x: -x[1]):
                e, k = key.split('||')
                if v / 1000 / n >= 1.0:
                    print('   %-48s %-40s %6.1f' % (k[:48], e[:40], v / 1000 / n))


def cmd_chains(args):
    if len(args) not in (2, 3):
        usage()
    prefix, want = args[0], args[1]
    top = int(args[2]) if len(args) > 2 else 30
    n = ncyc(prefix)
    c = collections.Counter()
    for r, comm, ks, frames, period in run_samples(prefix):
        if want not in (kind(ks, frames), entry(ks, frames)):
            continue
        chain = [x for x in ks if 'pvm_irq' not in x and 'raw_spin_unlock' not in x
                 and x not in ('entry_SYSCALL_64_after_hwframe', 'do_syscall_64')]
        if not ks:
            chain = ['user: %s (%s)' % frames[0] if frames else '?']
        c[r + ': ' + ' <- '.join(chain)[:200]] += period
    print('us/cycle  chain (leaf first)')
    for k, v in c.most_common(top):
        print('%8.2f  %s' % (v / 1000 / n, k))


def cmd_returns(args):
    if len(args) != 1:
        usage()
    prefix = args[0]
    n = ncyc(prefix)
    user, kern = collections.Counter(), collections.Counter()
    for r, comm, ks, frames, period in run_samples(prefix):
        if not frames:
            continue
        if not ks:
            if entry(ks, frames).startswith('user: syscall return'):
                user[(r, frames[0][0])] += period
        elif syscall_of(ks) == '(entry/exit)':
            u = [s for s, d in frames if d != '[kernel.kallsyms]']
            kern[(r, u[0] if u else '?')] += period
    print('us per cycle at the return point in a libc wrapper (user) and in the kernel\'s entry/exit code (kernel)')
    for k in sorted(set(user) | set(kern), key=lambda k: -(user[k] + kern[k])):
        print('  %-8s %-36s user %6.1f  kernel %6.1f' % (k[0], k[1], user[k] / 1000 / n, kern[k] / 1000 / n))


# ---- the tables ---------------------------------------------------------------------------------

def med(xs):
    return statistics.median(xs) if xs else float('nan')


def fmt(xs, d=1):
    if not xs:
        return '–'
    m = med(xs)
    if len(xs) < 2 or min(xs) == max(xs):
        return '%.*f' % (d, m)
    return '%.*f [%.*f–%.*f]' % (d, m, d, min(xs), d, max(xs))


def runs(d, mode, kind_):
    """the run prefixes DIR/runs/MODE-KIND-*, in round order"""
    ps = [p[:-len('.rate')] for p in glob.glob(os.path.join(d, 'runs', '%s-%s-*.rate' % (mode, kind_)))]
    return sorted(ps, key=lambda p: int(p.rsplit('-', 1)[1]) if p.rsplit('-', 1)[1].isdigit() else 0)


def of_runs(rs):
    return '%d run%s of %s cycles' % (len(rs), 's' if len(rs) != 1 else '',
                                       '/'.join(sorted({'{:,}'.format(ncyc(p)) for p in rs})))


def cpu_table(d):
    rows = [('n', 'npipe open+close'), ('u', 'AF_UNIX connect+accept+close')]
    if not any(runs(d, m, 'none') for m, _ in rows):
        return
    print('#### CPU per cycle, no tool attached\n')
    print('µs of CPU per cycle, all threads (schedstat), median [min–max]:\n')
    print('| | rate (cycles/s) | client | server | broker | total |')
    print('| --- | --- | --- | --- | --- | --- |')
    for mode, label in rows:
        rs = runs(d, mode, 'none')
        if not rs:
            continue
        per = collections.defaultdict(list)
        for p in rs:
            s = snap(p)
            for r in s:
                per[r].append(s[r][0])
            per['total'].append(sum(v[0] for v in s.values()))
        print('| %s (%s) | %s | %s | %s | %s | %s |' % (label, of_runs(rs), fmt([rate(p) for p in rs], 0), fmt(per['client']),
                                                    fmt(per['server']), fmt(per['broker']), fmt(per['total'])))
    print()


def stat_table(d):
    for mode, label, roles in (('n', 'npipe open+close', ROLES), ('u', 'AF_UNIX connect+accept+close', ROLES[:2])):
        rs = runs(d, mode, 'stat')
        if not rs:
            continue
        print('#### Under `perf stat`: %s, %s\n' % (label, of_runs(rs)))
        print('| per cycle | ' + ' | '.join(roles) + ' | total |')
        print('| --- |' + ' --- |' * (len(roles) + 1))
        for title, ev, mul in (('task-clock (µs)', 'task-clock', 1000.0), ('context switches', 'context-switches', 1),
                               ('cpu migrations', 'cpu-migrations', 1), ('page faults', 'page-faults', 1),
                               ('system calls (raw_syscalls:sys_enter)', 'raw_syscalls:sys_enter', 1)):
            vals = collections.defaultdict(list)
            for p in rs:
                n, tot = ncyc(p), 0
                for r in roles:
                    v = perfcsv('%s.stat.%s' % (p, r)).get(ev, 0) * mul / n
                    vals[r].append(v)
                    tot += v
                vals['total'].append(tot)
            print('| %s | ' % title + ' | '.join(fmt(vals[r], 1 if mul != 1 else 2) for r in roles + ('total',)) + ' |')
        print()


def count_table(d):
    for mode, label, roles in (('n', 'npipe open+close', ROLES), ('u', 'AF_UNIX connect+accept+close', ROLES[:2])):
        rs = runs(d, mode, 'count')
        if not rs:
            continue
        vals = collections.defaultdict(lambda: collections.defaultdict(list))
        for p in rs:
            n = ncyc(p)
            for r in roles:
                for k, v in perfcsv('%s.count.%s' % (p, r)).items():
                    k = k.replace('syscalls:sys_enter_', '').replace('raw_syscalls:sys_enter', 'ALL')
                    vals[k][r].append(v / n)
        keys = [k for k in vals if k != 'ALL' and any(med(vals[k][r]) >= 0.005 for r in roles if vals[k][r])]
        keys.sort(key=lambda k: -sum(med(vals[k][r]) for r in roles if vals[k][r]))
        print('#### System calls per cycle by kind (exact): %s, %s\n' % (label, of_runs(rs)))
        print('| syscall | ' + ' | '.join(roles) + ' |')
        print('| --- |' + ' --- |' * len(roles))
        for k in keys + ['ALL']:
            print('| %s | ' % ('**all**' if k == 'ALL' else k) + ' | '.join(
                fmt(vals[k][r], 2) if vals[k][r] and med(vals[k][r]) >= 0.005 else '' for r in roles) + ' |')
        print()


EV_ROWS = [('sched:sched_waking', 'wake-ups issued (sched_waking, counted in the waker)'),
           ('sched:sched_switch', 'context switches (sched_switch)'),
           ('exceptions:page_fault_user', 'page faults (user)'),
           ('tlb:tlb_flush#3', 'tlb_flush reason 3 (local mm shootdown = local flush of a range)'),
           ('tlb:tlb_flush#4', 'tlb_flush reason 4 (flush_tlb_multi called: another CPU in mm_cpumask)'),
           ('ipi:ipi_send_cpu', 'IPIs sent to one CPU (ipi_send_cpu: waking the other vCPU, reschedule)'),
           ('ipi:ipi_send_cpumask', 'IPIs sent, cpumask (TLB shootdowns)'),
           ('irq_vectors:call_function_entry', 'call-function IPIs received'),
           ('irq_vectors:reschedule_entry', 'reschedule IPIs received')]


def ev_table(d):
    rs = runs(d, 'n', 'ev')
    if not rs:
        return
    print('#### Scheduler, fault and TLB events per cycle (exact): npipe open+close, %s\n' % of_runs(rs))
    print('| per cycle | client | server | broker |')
    print('| --- | --- | --- | --- |')
    for ev, title in EV_ROWS:
        vals = collections.defaultdict(list)
        for p in rs:
            for r in ROLES:
                vals[r].append(perfcsv('%s.ev.%s' % (p, r)).get(ev, 0) / ncyc(p))
        print('| %s | ' % title + ' | '.join(fmt(vals[r], 2) for r in ROLES) + ' |')
    print()


def trace_table(d):
    rs = runs(d, 'n', 'trace')
    if not rs:
        return
    vals = collections.defaultdict(lambda: collections.defaultdict(lambda: ([], [])))
    for p in rs:
        n = ncyc(p)
        for r in ROLES:
            for k, (c, _, ms) in parse_trace('%s.trace.%s' % (p, r)).items():
                vals[k][r][0].append(c / n)
                vals[k][r][1].append(ms * 1000 / n)
    keys = sorted(vals, key=lambda k: -sum(med(vals[k][r][0]) for r in ROLES if vals[k][r][0]))
    print('#### `perf trace -s`: npipe open+close, %s\n' % of_runs(rs))
    none = [rate(p) for p in runs(d, 'n', 'none')]
    print('Calls per cycle and µs inside the call per cycle (wall time, sleeping and the tracer\'s own cost '
          'included; median). The driver ran at %s cycles/s under perf trace%s.\n'
          % (fmt([rate(p) for p in rs], 0), ', %s without a tool' % fmt(none, 0) if none else ''))
    print('| syscall | client calls | client µs | server calls | server µs | broker calls | broker µs |')
    print('| --- | --- | --- | --- | --- | --- | --- |')
    for k in keys:
        cells = []
        for r in ROLES:
            c, us = vals[k][r]
            cells += ['%.2f' % med(c), '%.1f' % med(us)] if c and med(c) >= 0.01 else ['', '']
        if any(cells):
            print('| %s | ' % k + ' | '.join(cells) + ' |')
    print()


# rows of the ranked table: (key, title, kinds of classify); 'user' takes every "user code (...)"
GROUPS = [
    ('switch', 'Context switches: sleeping, switching in, returning to user after a switch', ['sleep: schedule / context switch']),
    ('tlb', 'munmap: TLB flush (flush_tlb_mm_range, flush_tlb_multi path; no IPI sent)', ['TLB flush / shootdown (sender)', 'IPI received (TLB flush on the other side)']),
    ('fault', 'Page faults: first write of own header, first read of the peer\'s (incl. fault return)', ['page fault (shmem first touch, map)']),
    ('entry', 'Syscall entry/exit of the calls that do not sleep (~1 µs each on PVM)', ['syscall entry/exit (kernel side)', 'syscall entry/exit (user side: return point)']),
    ('wake', 'Waking another thread (try_to_wake_up, socket/futex wake, wake IPI)', ['wake another thread (try_to_wake_up)']),
    ('unmap', 'munmap: unmapping PTEs, freeing pages and page tables', ['munmap (unmap, free page tables)']),
    ('msg', 'AF_UNIX SEQPACKET messages: skb alloc, copy, free (broker protocol)', ['socket: AF_UNIX send/recv (skb)']),
    ('mmap', 'mmap (own RW, peer RO)', ['mmap']),
    ('futex', 'futex calls apart from sleeping and waking; sched_yield', ['futex (no sleep, no wake)', 'sched_yield']),
    ('close', 'close → fput → shmem inode release (memfds)', ['close -> fput -> file/inode release']),
    ('memfd', 'memfd_create + ftruncate', ['memfd_create + ftruncate (shmem inode)']),
    ('spin', 'User: spin-wait for the peer (np_conn_wait_for, ≤ 20 µs)', ['user: spin-wait for the peer (np_conn_wait_for)']),
    ('user', 'User: other code (libnpipe, npiped, libc, driver)', []),
    ('seal', 'fcntl seals + fstat (segment checks), madvise DONTFORK', ['fcntl (seals) / fstat', 'madvise']),
    ('scm', 'SCM_RIGHTS fd passing (attach, detach, install)', ['fd passing (SCM_RIGHTS attach/detach/install)']),
    ('epoll', 'epoll_wait (broker), apart from sleeping', ['epoll_wait']),
    ('unixsock', 'AF_UNIX socket/connect/accept4/read/close', ['socket: socket/connect/accept/close (AF_UNIX set-up)']),
    ('other', 'Other kernel (timer interrupts, ...)', ['kernel: other']),
]
TITLE = {key: title for key, title, _ in GROUPS}
# the columns of the per-thread table: groups summed
THREAD_COLS = [('context switches', ['switch']), ('waking others', ['wake']),
               ('segment work (mmap, munmap, TLB, faults, memfd, seals, close)',
                ['tlb', 'unmap', 'fault', 'mmap', 'close', 'memfd', 'seal']),
               ('syscall entry/exit', ['entry']), ('AF_UNIX msgs + fd passing', ['msg', 'scm']),
               ('user code + spin', ['spin', 'user'])]


def group_of(k):
    for key, _, kinds in GROUPS:
        if k in kinds:
            return key
    return 'user' if k.startswith('user code') else 'other'


def record_runs(d, mode):
    """per record run: (role -> group -> us/cycle, role/thread -> group -> us/cycle, sysc json)"""
    out = []
    for p in runs(d, mode, 'record'):
        js = p + '.script.json'
        res = json.load(open(js)) if os.path.exists(js) else classify(p)
        n = res['n']
        g = collections.defaultdict(collections.Counter)
        for r, kinds in res['kind'].items():
            for k, ns in kinds.items():
                g[r][group_of(k)] += ns / 1000 / n
        th = collections.defaultdict(collections.Counter)
        for t, kinds in res['tkind'].items():
            for k, ns in kinds.items():
                th[t][group_of(k)] += ns / 1000 / n
        out.append((g, th, res))
    return out


def cell(xs):
    if not xs or max(xs) < 0.05:
        return ''
    if len(xs) < 2:
        return '%.0f' % xs[0] if xs[0] >= 10 else '%.1f' % xs[0]
    if med(xs) >= 10:
        return '%.0f [%.0f–%.0f]' % (med(xs), min(xs), max(xs))
    return '%.1f [%.1f–%.1f]' % (med(xs), min(xs), max(xs))


def bold(s):
    return '**%s**' % s if s else '–'


def rank_table(d):
    N, U = record_runs(d, 'n'), record_runs(d, 'u')
    if not N:
        return
    nr, ur = runs(d, 'n', 'record'), runs(d, 'u', 'record')
    nsamp = [sum(res['samples'].values()) for _, _, res in N]
    print('#### Ranked: where the CPU of one open+close goes\n')
    print('perf record -a -g -e cpu-clock, every sample classified by its kernel call chain; µs of sampled CPU '
          'per cycle, median [min–max]; share = of the npipe total. npipe: %s, %s samples of the three '
          'processes per run%s.\n' % (of_runs(nr), '%d–%d' % (min(nsamp), max(nsamp)) if len(nsamp) > 1 else nsamp[0],
                                      '; AF_UNIX: %s' % of_runs(ur) if ur else ''))
    ntot = [sum(sum(g[r].values()) for r in g) for g, _, _ in N]
    rows = []
    for key, title, _ in GROUPS:
        vals = {r: [g[r][key] for g, _, _ in N] for r in ROLES}
        tot = [sum(g[r][key] for r in ROLES) for g, _, _ in N]
        uv = {r: [g[r][key] for g, _, _ in U] for r in ROLES[:2]}
        utot = [g['client'][key] + g['server'][key] for g, _, _ in U]
        rows.append((med(tot), title, vals, tot, uv, utot))
    rows.sort(key=lambda x: -x[0])
    print('| # | kind of work | client | server | broker | **npipe total** | share | AF_UNIX client | AF_UNIX server | **AF_UNIX total** |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    i = 0
    for mt, title, vals, tot, uv, utot in rows:
        if mt < 0.05 and (not utot or med(utot) < 0.05):
            continue
        i += 1
        print('| %d | %s | %s | %s | %s | %s | %.0f %% | %s | %s | %s |' % (
            i, title, cell(vals['client']), cell(vals['server']), cell(vals['broker']), bold(cell(tot)),
            100 * mt / med(ntot), cell(uv['client']), cell(uv['server']), bold(cell(utot))))
    tots = {r: [sum(g[r].values()) for g, _, _ in N] for r in ROLES}
    utots = {r: [sum(g[r].values()) for g, _, _ in U] for r in ROLES[:2]}
    print('| | **all (sampled CPU)** | %s | %s | %s | **%s** | 100 %% | %s | %s | %s |' % (
        cell(tots['client']), cell(tots['server']), cell(tots['broker']), cell(ntot), cell(utots['client']),
        cell(utots['server']), bold(cell([a + b for a, b in zip(utots['client'], utots['server'])]))))
    print()
    print('Per thread (the same runs; the columns group the rows above):\n')
    print('| thread | CPU µs/cycle | of which: ' + ' | '.join(c for c, _ in THREAD_COLS) + ' |')
    print('| --- | --- |' + ' --- |' * len(THREAD_COLS))
    for t in sorted(set(t for _, th, _ in N for t in th)):
        parts = [cell([sum(th[t][k] for k in keys) for _, th, _ in N]) for _, keys in THREAD_COLS]
        print('| %s | %s | %s |' % (t, cell([sum(th[t].values()) for _, th, _ in N]), ' | '.join(parts)))
    print()


def syscall_table(d):
    for mode, label, roles in (('n', 'npipe open+close', ROLES), ('u', 'AF_UNIX connect+accept+close', ROLES[:2])):
        rs = [res for _, _, res in record_runs(d, mode)]
        if not rs:
            continue
        keys = collections.Counter()
        for res in rs:
            for r, e in res['sysc'].items():
                for k, v in e.items():
                    keys[k] += v / res['n'] / 1000
        print('#### Sampled CPU by system call: %s (µs per cycle, median [min–max])\n' % label)
        print('| syscall (or entry) | ' + ' | '.join(roles) + ' |')
        print('| --- |' + ' --- |' * len(roles))
        for k, v in keys.most_common(40):
            if v / len(rs) < 0.5:
                continue
            vals = [[res['sysc'].get(r, {}).get(k, 0) / res['n'] / 1000 for res in rs] for r in roles]
            print('| %s | ' % k + ' | '.join('' if max(x) < 0.05 else '%.1f' % x[0] if len(x) < 2 else
                                             '%.1f [%.1f–%.1f]' % (med(x), min(x), max(x)) for x in vals) + ' |')
        print()


TABLES = [('cpu', cpu_table), ('stat', stat_table), ('count', count_table), ('ev', ev_table),
          ('trace', trace_table), ('rank', rank_table), ('syscall', syscall_table)]


def cmd_tables(args):
    if not args or args[0].startswith('-'):
        usage()
    d, only = args[0], [name for name, _ in TABLES]
    if len(args) == 3 and args[1] == '--only':
        only = args[2].split(',')
        if any(o not in dict(TABLES) for o in only):
            usage()
    elif len(args) != 1:
        usage()
    if not glob.glob(os.path.join(d, 'runs', '*.rate')):
        sys.exit('openprof.py: no runs in %s/runs (made by bench/openprof/batch.sh)' % d)
    for name, fn in TABLES:
        if name in only:
            fn(d)


def usage():
    sys.exit('usage:\n' + __doc__.split('\n\n')[1] + '\n(see the comment at the top of ' + sys.argv[0] + ')')


def main():
    cmds = {'tables': cmd_tables, 'classify': cmd_classify, 'chains': cmd_chains, 'returns': cmd_returns}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        usage()
    cmds[sys.argv[1]](sys.argv[2:])


if __name__ == '__main__':
    main()
