#!/usr/bin/env python3
"""Differential fuzzing of YAML comment placement against the real sops.

Generates YAML files with comments at every indentation (nested mappings and lists, flush lists, flow
collections, block scalars, `- ` lines alone, blank lines), encrypts each with sops and with intops, and
compares: the layout of the two encrypted files (values masked), intops' decryption of sops' file against
`sops -d`, and `sops -d` of intops' file (no warning). Where go-yaml overwrites one comment with another
(sops then drops it), intops keeps both; and some files sops writes it reads back with a comment elsewhere
(after a flow collection in a list). Neither counts as a difference; both are counted and reported.

    make fuzz-comments            # or: Benchmarks/sops-comment-fuzz.py --seed 1 --cases 300

Each failing case is kept in the work directory (input.yaml, theirs.yaml, ours.yaml, expected.yaml,
ours-decrypt.yaml); the exit status is 1 when any case fails.
"""
import argparse
import difflib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile


def generate(rng):
    lines = []

    def line_comment():
        return f" # lc{rng.randint(0, 999)}" if rng.random() < 0.2 else ''

    def comments(indent):
        while rng.random() < 0.35:
            lines.append(' ' * max(0, indent + rng.choice([-4, -2, -1, 0, 0, 1, 2, 4])) + f"# c{len(lines)}")
            if rng.random() < 0.25:
                lines.append('')
        if rng.random() < 0.1:
            lines.append('')

    def scalar(indent):
        r = rng.random()
        if r < 0.1:
            return f"'q{rng.randint(0, 99)}'", []
        if r < 0.2:
            return f'"d{rng.randint(0, 99)}"', []
        if r < 0.27:
            return '[1, 2]', []
        if r < 0.35:
            return '|', [' ' * (indent + 2) + f"line{rng.randint(0, 9)}", ' ' * (indent + 2) + 'more']
        return f"v{rng.randint(0, 999)}", []

    def flush_list(indent):
        for _ in range(rng.randint(1, 3)):
            comments(indent)
            lines.append(' ' * indent + f"- f{len(lines)}" + line_comment())
        comments(indent)

    def block(depth, indent):
        kind = rng.choice(['map', 'map', 'list']) if 0 < depth < 3 else 'map'
        for _ in range(rng.randint(1, 3)):
            comments(indent)
            if kind == 'map':
                key = f"k{rng.randint(0, 99)}_{len(lines)}"
                if depth < 3 and rng.random() < 0.4:
                    lines.append(' ' * indent + key + ':' + line_comment())
                    block(depth + 1, indent + rng.choice([2, 4]))
                elif depth < 3 and rng.random() < 0.1:
                    lines.append(' ' * indent + key + ':' + line_comment())
                    flush_list(indent)
                else:
                    value, more = scalar(indent)
                    lines.append(' ' * indent + f"{key}: {value}" + ('' if more else line_comment()))
                    lines.extend(more)
                continue
            r = rng.random()
            if depth < 3 and r < 0.25:
                lines.append(' ' * indent + f"- m{len(lines)}: x" + line_comment())
                comments(indent + 2)
                lines.append(' ' * (indent + 2) + f"n{len(lines)}: y")
            elif depth < 3 and r < 0.35:
                lines.append(' ' * indent + f"- - a{len(lines)}" + line_comment())
                comments(indent + 2)
                lines.append(' ' * (indent + 2) + f"- b{len(lines)}")
            elif depth < 3 and r < 0.45:
                lines.append(' ' * indent + '-' + (f" # dash{len(lines)}" if rng.random() < 0.5 else ''))
                lines.append(' ' * (indent + 2) + f"p{len(lines)}: z")
            else:
                value, more = scalar(indent)
                lines.append(' ' * indent + f"- {value}" + ('' if more else line_comment()))
                lines.extend(more)
        comments(indent)

    block(0, 0)
    return '\n'.join(lines) + '\n'


def layout(text):
    body = text.split('\nsops:\n')[0]
    return re.sub(r'ENC\[AES256_GCM,data:[^,]*,iv:[^,]*,tag:[^,]*,type:([a-z]+)\]', r'ENC:\1', body)


def only_added_comments(theirs, ours):
    """Whether `ours` is `theirs` with comment lines added (comments go-yaml overwrote and sops dropped)."""
    a, b = theirs.splitlines(), ours.splitlines()
    changes = [op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != 'equal']
    return all(
        op[0] == 'insert' and all('type:comment' in line or 'ENC:comment' in line or line.lstrip().startswith('#')
                                  for line in b[op[3]:op[4]])
        for op in changes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--cases', type=int, default=300)
    parser.add_argument('--intops', default='.build/release/intops')
    parser.add_argument('--work', default=None, help='where failing cases are kept (default: a new directory)')
    options = parser.parse_args()
    intops = os.path.abspath(options.intops)
    work = options.work or tempfile.mkdtemp(prefix='sops-comment-fuzz-')
    os.makedirs(work, exist_ok=True)
    key_file = os.path.join(work, 'key.txt')
    if not os.path.exists(key_file):
        subprocess.run(['age-keygen', '-o', key_file], check=True, capture_output=True)
    recipient = re.search(r'public key: (age1\w+)', open(key_file).read()).group(1)
    env = dict(os.environ, SOPS_AGE_KEY_FILE=key_file)

    def run(arguments):
        return subprocess.run(arguments, env=env, capture_output=True, text=True)

    rng = random.Random(options.seed)
    failures = kept = inconsistent = 0
    for case in range(options.cases):
        text = generate(rng)
        directory = os.path.join(work, f"case{case}")
        os.makedirs(directory, exist_ok=True)
        theirs, ours = os.path.join(directory, 'theirs.yaml'), os.path.join(directory, 'ours.yaml')
        for path in (theirs, ours, os.path.join(directory, 'input.yaml')):
            open(path, 'w').write(text)
        if run(['sops', '-e', '-i', '--age', recipient, theirs]).returncode != 0:
            shutil.rmtree(directory)
            continue
        problems = []
        expected = run(['sops', '-d', theirs])
        decrypted = run([intops, 'secrets', 'decrypt', theirs])
        open(os.path.join(directory, 'expected.yaml'), 'w').write(expected.stdout)
        open(os.path.join(directory, 'ours-decrypt.yaml'), 'w').write(decrypted.stdout)
        encrypted = run([intops, 'secrets', 'encrypt', '--age', recipient, '-i', ours])
        if decrypted.stdout != expected.stdout:
            same_layout = encrypted.returncode == 0 and layout(open(theirs).read()) == layout(open(ours).read())
            if only_added_comments(expected.stdout, decrypted.stdout):
                kept += 1
            elif same_layout and run([intops, 'secrets', 'decrypt', ours]).stdout == decrypted.stdout:
                # Both wrote the same file, and intops reads both alike: sops reads its own file back otherwise.
                inconsistent += 1
            else:
                problems.append('intops decrypts sops\' file differently from sops -d')
        if encrypted.returncode != 0:
            problems.append('intops encrypt failed: ' + encrypted.stderr.strip())
        else:
            a, b = layout(open(theirs).read()), layout(open(ours).read())
            if a != b:
                if only_added_comments(a, b):
                    kept += 1
                else:
                    problems.append('the encrypted layouts differ')
            back = run(['sops', '-d', ours])
            # sops warns on some files it wrote itself; only a warning it does not give its own file counts.
            if back.returncode != 0 or ('warning' in back.stderr and 'warning' not in expected.stderr):
                problems.append('sops cannot open intops\' file cleanly: ' + back.stderr.strip()[:200])
        if problems:
            failures += 1
            print(f"case{case}: " + '; '.join(problems))
        else:
            shutil.rmtree(directory)
    print(f"{failures} of {options.cases} cases differ ({kept} keep comments sops drops, {inconsistent} that sops "
          f"reads back unlike it wrote them); failing cases in {work}")
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
