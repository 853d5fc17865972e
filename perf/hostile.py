#!/usr/bin/env python3
"""Issue 12's hostile cases, run against one or more fnn-par binaries side by side.

    python3 perf/hostile.py OLD_BINARY NEW_BINARY [--data ../shared/data]

Each case is a command that must end in a clear refusal (status 1 or 64, with the file or option
it blames on stderr) or, where marked, in success. Per class and binary it counts: crashes
(a signal), hangs (over 30 s), inputs destroyed (a file the command read changed), wrong
results (status 0 where a refusal is right), and unclear refusals (the culprit not named).
"""
import json, os, random, shutil, struct, subprocess, sys, tempfile

args = [a for i, a in enumerate(sys.argv[1:], 1) if not a.startswith('--') and sys.argv[i - 1] != '--data']
data_root = sys.argv[sys.argv.index('--data') + 1] if '--data' in sys.argv else os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data')
binaries = [os.path.abspath(b) for b in args if os.path.exists(b)]
U = os.path.abspath(os.path.join(data_root, 'ml-100k', 'u.data'))


def header_parts(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:], 8 + n


def build(header, data):
    h = json.dumps(header).encode()
    return struct.pack('<Q', len(h)) + h + data


def prepare(work, binary):
    """Inputs made with the binary itself (models, checkpoints, data files)."""
    os.chdir(work)
    shutil.copy(U, 'u.data')
    run = lambda *a: subprocess.run([binary, *a], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run('fm', '--data', 'u.data', '--epochs', '1', '--save', 'm.safetensors', '--checkpoint', 'm.ckpt', '--keep-checkpoint', '--no-cache', '--quiet')
    run('fnn', '--data', 'u.data', '--epochs', '1', '--save', 'f.safetensors', '--checkpoint', 'f.ckpt', '--keep-checkpoint', '--no-cache', '--quiet')
    run('generate', '--rows', '5000', '--seed', '3', '--out', 'd.fnnpar')
    run('generate', '--rows', '3000000', '--seed', '4', '--out', 'big.fnnpar')
    run('generate', '--shape', 'criteo', '--rows', '5000', '--out', 'c.fnnpar')


def cases():
    """(class, name, setup, command, expect) with expect 'refuse' or 'ok'; setup writes files."""
    out = []
    add = lambda cls, name, cmd, setup=None, expect='refuse', culprit=None: out.append((cls, name, setup, cmd, expect, culprit))

    def patch_ids(src, dst, offset_words, value, tensor='ids'):
        def setup():
            h, d, start = header_parts(src)
            b = bytearray(open(src, 'rb').read())
            o = start + h[tensor]['data_offsets'][0] + offset_words * 4
            b[o:o + 4] = struct.pack('<I', value)
            open(dst, 'wb').write(bytes(b))
        return setup
    add('mapped bytes', 'id one past its field', ['fm', '--data', 'bad1.fnnpar', '--epochs', '1'], patch_ids('d.fnnpar', 'bad1.fnnpar', 19, 3706), culprit='bad1.fnnpar')
    add('mapped bytes', 'id far past the table', ['fm', '--data', 'bad2.fnnpar', '--epochs', '1'], patch_ids('d.fnnpar', 'bad2.fnnpar', 19, 0xFFFFFFF0), culprit='bad2.fnnpar')
    add('mapped bytes', 'label 2.0', ['fm', '--data', 'bad3.fnnpar', '--epochs', '1'], patch_ids('d.fnnpar', 'bad3.fnnpar', 6, 0x40000000, 'labels'), culprit='bad3.fnnpar')
    add('mapped bytes', 'predict on a far id', ['predict', '--model', 'm.safetensors', '--data', 'bad2.fnnpar', '--out', 'p.txt'], culprit='bad2.fnnpar')
    add('mapped bytes', 'truncated while training', 'TRUNCATE', culprit='big.fnnpar')

    for base in ['m.safetensors', 'f.safetensors']:
        def mut(fn, base=base):
            def setup():
                h, d, _ = header_parts(base)
                fn(h)
                open('x.safetensors', 'wb').write(build(h, d))
            return setup
        def meta(k, v):
            return lambda h: h['__metadata__'].__setitem__(k, v)
        def shape(k, v):
            return lambda h: h['embedding.embedding.weight'].__setitem__(k, v)
        for name, fn in [('field sizes overflow', meta('field_dims', '[9223372036854775807, 5]')),
                         ('negative field size', meta('field_dims', '[-1, 2624]')),
                         ('MLP widths 100000', meta('mlp_dims', '[100000, 100000]')),
                         ('embed_dim 1e8', meta('embed_dim', '100000000')),
                         ('shape [1e12, 0]', shape('shape', [10**12, 0])),
                         ('shape overflow', shape('shape', [1 << 62, 4])),
                         ('offsets past the file', shape('data_offsets', [0, 10**15])),
                         ('a flipped parameter', None)]:
            if fn is None:
                def setup(base=base):
                    b = bytearray(open(base, 'rb').read()); b[-3] ^= 0x10; open('x.safetensors', 'wb').write(bytes(b))
            else:
                setup = mut(fn)
            add('declared sizes', f'{base[0]}: {name}', ['eval', '--model', 'x.safetensors', '--data', 'u.data'], setup, culprit='x.safetensors')
    for ck, kind in [('m.ckpt', 'fm'), ('f.ckpt', 'fnn')]:
        def neg(ck=ck):
            h, d, _ = header_parts(ck)
            h['__metadata__']['state'] = h['__metadata__']['state'].replace('"epoch":', '"epoch":-5,"x":', 1)
            open('x.ckpt', 'wb').write(build(h, d))
        add('declared sizes', f'{kind} checkpoint: negative epoch', [kind, '--data', 'u.data', '--no-cache', '--epochs', '2', '--resume', 'x.ckpt'], neg, culprit='x.ckpt')
    def wide():
        with open('wide.ffm', 'w') as f:
            for i in range(2000):
                f.write(f'{i % 2} 0:{i % 50}:1 1:{i % 7}:1' + (' 99999:5:1' if i == 1500 else '') + '\n')
    add('declared sizes', 'libffm field 99999', ['fm', '--data', 'wide.ffm', '--no-cache', '--epochs', '1'], wide, culprit='wide.ffm')
    random.seed(1)
    for i in range(40):
        def flip(i=i):
            b = bytearray(open('m.ckpt', 'rb').read()); o = random.Random(i).randrange(len(b)); b[o] ^= 1 << (i % 8)
            open('flip.ckpt', 'wb').write(bytes(b))
        add('checkpoint bit flips', f'flip {i}', ['fm', '--data', 'u.data', '--no-cache', '--epochs', '2', '--resume', 'flip.ckpt', '--quiet'], flip, expect='either', culprit='flip.ckpt')

    add('memory plan', '--mlp 60000,60000', ['fnn', '--data', 'u.data', '--no-cache', '--mlp', '60000,60000', '--epochs', '1'], culprit='--mlp')
    add('memory plan', 'past ulimit -v', 'ULIMIT', culprit='ulimit')

    for name, cmd, culprit in [
            ('--save is --data', ['fm', '--data', 'u.data', '--save', 'u.data', '--epochs', '1'], 'u.data'),
            ('--json is ./--data', ['fm', '--data', 'u.data', '--json', './u.data', '--epochs', '1'], 'u.data'),
            ('--checkpoint links to --data', ['fm', '--data', 'u.data', '--checkpoint', 'link.dat', '--save', 'y.safetensors', '--epochs', '1'], 'link.dat'),
            ('--out is --model', ['predict', '--model', 'm.safetensors', '--data', 'u.data', '--out', 'm.safetensors'], 'm.safetensors'),
            ('--out links to --data', ['predict', '--model', 'm.safetensors', '--data', 'u.data', '--out', 'link.dat'], 'link.dat'),
            ('eval --json is --data', ['eval', '--model', 'm.safetensors', '--data', 'u.data', '--json', 'u.data'], 'u.data'),
            ('--save is --init-from', ['fnn', '--data', 'u.data', '--init-from', 'm.safetensors', '--save', 'm.safetensors', '--epochs', '1'], 'm.safetensors'),
            ('export onto its model', ['export', '--model', 'm.safetensors', '--embeddings', 'm.safetensors'], 'm.safetensors')]:
        setup = (lambda: (os.path.lexists('link.dat') or os.symlink('u.data', 'link.dat')))
        add('outputs that destroy inputs', name, cmd + (['--no-cache'] if cmd[0] in ('fm', 'fnn') else []), setup, culprit=culprit)

    def fifo(name, writer):
        def setup():
            if os.path.exists(name): os.unlink(name)
            os.mkfifo(name)
            subprocess.Popen(['/bin/sh', '-c', f'{writer} > {name}'])
        return setup
    add('streams', 'FIFO as --data', ['fm', '--data', 'p.fifo', '--epochs', '1', '--quiet'], fifo('p.fifo', f"cat '{U}'"), expect='ok')
    add('streams', 'gzip through a FIFO', ['fm', '--data', 'g.fifo', '--epochs', '1', '--quiet'], fifo('g.fifo', f"gzip -c '{U}'"), expect='ok')
    add('streams', '/dev/zero as --data', ['fm', '--data', '/dev/zero'], culprit='/dev/zero')
    add('streams', '/dev/urandom as --data', ['fm', '--data', '/dev/urandom'], culprit='/dev/urandom')
    add('streams', '/dev/zero as --model', ['eval', '--model', '/dev/zero', '--data', 'u.data'], culprit='/dev/zero')
    add('streams', '/dev/zero as --field-map', ['fm', '--data', 'u.data', '--field-map', '/dev/zero', '--no-cache', '--epochs', '1'], culprit='/dev/zero')

    for opt in [['--memory-budget', 'inf'], ['--memory-budget', '1e30'], ['--memory-budget', '99999999999T'], ['--batch-size', '0'],
                ['--embed-dim', '0'], ['--threads', '0'], ['--epochs', '0'], ['--min-count=-1'], ['--lr', 'nan']]:
        add('options', ' '.join(opt), ['fm', '--data', 'u.data', '--no-cache'] + opt, culprit=opt[0].split('=')[0])
    add('options', 'fnn --dropout 1', ['fnn', '--data', 'u.data', '--no-cache', '--dropout', '1'], culprit='--dropout')
    add('options', 'bench --dropout 1', ['bench', '--dropout', '1', '--repeats', '1'], culprit='--dropout')

    def saved_experiment():
        if not os.path.exists('D/fm.safetensors'):
            subprocess.run([BIN[0], '--data', 'u.data', '--save-dir', 'D', '--epochs', '1', '--no-cache', '--quiet'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    add('resuming the wrong thing', 'experiment --resume, another lr', ['--data', 'u.data', '--save-dir', 'D', '--epochs', '1', '--no-cache', '--resume', '--lr', '0.01'], saved_experiment, culprit='lr')
    add('resuming the wrong thing', 'experiment --resume, another epoch limit', ['--data', 'u.data', '--save-dir', 'D', '--epochs', '2', '--no-cache', '--resume'], saved_experiment, culprit='epoch')
    def other_data():
        saved_experiment()
        lines = open(U).read().split('\n'); p = lines[4].split('\t'); p[2] = '1' if p[2] == '5' else '5'; lines[4] = '\t'.join(p)
        open('u3.data', 'w').write('\n'.join(lines))
    add('resuming the wrong thing', 'experiment --resume, other data of the same sizes', ['--data', 'u3.data', '--save-dir', 'D', '--epochs', '1', '--no-cache', '--resume'], other_data, culprit='data')

    def label51():
        with open('f.tsv', 'w') as f:
            for i in range(100): f.write(f'{2 if i == 50 else i % 2}\t{i % 9}\t{i % 5}\n')
    add('errors that hide the line', 'bad label at line 51', ['fm', '--data', 'f.tsv', '--no-cache'], label51, culprit='f.tsv:51')
    return out


BIN = []


def main():
    if not binaries:
        sys.exit(__doc__)
    results = {}
    for binary in binaries:
        BIN[:] = [binary]
        work = tempfile.mkdtemp(prefix='fnn-par-hostile-')
        prepare(work, binary)
        for cls, name, setup, cmd, expect, culprit in cases():
            os.chdir(work)
            if setup: setup()
            watched = [f for f in ['u.data', 'm.safetensors', 'f.safetensors', 'd.fnnpar'] if os.path.exists(f)]
            before = {f: open(f, 'rb').read() for f in watched}
            status, err = None, ''
            try:
                if cmd == 'TRUNCATE':
                    p = subprocess.Popen([binary, 'fm', '--data', 'big.fnnpar', '--epochs', '50', '--patience', '0', '--threads', '1'],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                    seen = ''
                    while 'epoch 1:' not in seen:
                        line = p.stderr.readline()
                        if not line: break
                        seen += line
                    shutil.copy('big.fnnpar', 'big.keep') if not os.path.exists('big.keep') else None
                    os.truncate('big.fnnpar', 4096)
                    err = seen + p.stderr.read()
                    status = p.wait(timeout=30)
                    shutil.copy('big.keep', 'big.fnnpar')
                elif cmd == 'ULIMIT':
                    r = subprocess.run(['/bin/sh', '-c', f"ulimit -v 2000000; exec '{binary}' fnn --data c.fnnpar --embed-dim 256 --epochs 1"],
                                       capture_output=True, text=True, timeout=60)
                    status, err = r.returncode, r.stderr
                else:
                    r = subprocess.run([binary] + cmd, capture_output=True, text=True, timeout=30)
                    status, err = r.returncode, r.stderr
            except subprocess.TimeoutExpired:
                status = 'hang'
            destroyed = any(open(f, 'rb').read() != before[f] if os.path.exists(f) else True for f in watched)
            for f in watched:
                if not os.path.exists(f) or open(f, 'rb').read() != before[f]:
                    open(f, 'wb').write(before[f])
            if status == 'hang': verdict = 'hang'
            elif status < 0 or status >= 128: verdict = 'crash'
            elif destroyed: verdict = 'destroyed'
            elif expect == 'ok': verdict = 'ok' if status == 0 else 'unclear'
            elif status == 0: verdict = 'ok' if expect == 'either' else 'wrong'
            elif culprit and culprit not in err: verdict = 'unclear'
            else: verdict = 'ok'
            results.setdefault(cls, {}).setdefault(binary, []).append((name, verdict, status, err.strip().split('\n')[-1][:140] if err else ''))
        shutil.rmtree(work, ignore_errors=True)
    kinds = ['crash', 'hang', 'destroyed', 'wrong', 'unclear']
    print('| class | cases | ' + ' | '.join(f'{os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(b))))}: ' + ', '.join(kinds) for b in binaries) + ' |')
    print('| --- | --- | ' + ' | '.join('---' for _ in binaries) + ' |')
    for cls, per in results.items():
        n = len(next(iter(per.values())))
        cells = []
        for b in binaries:
            v = [x[1] for x in per[b]]
            cells.append(' / '.join(str(v.count(k)) for k in kinds))
        print(f'| {cls} | {n} | ' + ' | '.join(cells) + ' |')
    if '--verbose' in sys.argv:
        for cls, per in results.items():
            for b in binaries:
                for name, verdict, status, err in per[b]:
                    if verdict != 'ok': print(f'{os.path.basename(b)} {cls} / {name}: {verdict} ({status}) {err}')


main()
