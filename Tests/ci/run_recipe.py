#!/usr/bin/env python3
"""Runs one job of a CI recipe from examples/ci/ on this machine, as the CI system would run it.

    python3 Tests/ci/run_recipe.py --recipe FILE --job NAME [--matrix JSON] --workdir DIR --context JSON
                                   [--trace-env-prefix PREFIX]

DIR is the job's checkout (for a Kubernetes CronJob, the container's working directory). The context is a JSON
object:

    vars      repository / CI-CD variables (GitLab: CI/CD variables; Kubernetes: the ConfigMap)
    secrets   secrets (GitLab: masked CI/CD variables; Kubernetes: the Secrets)
    env       what the machine gives every process: PATH, HOME, and RUNNER_TEMP (GitHub)
    cache     GitHub Actions: the folder where actions/cache keeps what it saved (it outlives the jobs)
    github    GitHub Actions: event_name, ref
    gitlab    GitLab CI: predefined variables (CI_PIPELINE_SOURCE, CI_COMMIT_BRANCH, CI_DEFAULT_BRANCH, ...)
    mounts    Kubernetes: a folder of this machine for each volume mount path of the container

Nothing of this process's own environment reaches the job: the job sees the context and what the recipe sets.

The runner supports what the recipes use and refuses the rest loudly (exit 90, "run_recipe: error: ..."), so that
a recipe cannot silently rely on something these tests do not exercise. Otherwise it exits with the job's status.

GitHub Actions: workflow env, then job env, then step env, with ${{ }} expressions over vars, secrets, matrix and
github.event_name / github.ref; run steps as the runner does (`bash -e FILE` when no shell is given,
`bash --noprofile --norc -eo pipefail FILE` for `shell: bash`), GITHUB_ENV, GITHUB_PATH and GITHUB_OUTPUT
honoured between steps; actions/checkout is a no-op (the workdir is the checkout), actions/cache restores its
paths from the cache folder on an exact key and saves them there after a successful job that missed, and
actions/github-script is skipped once the files its script reads are there. A failed step skips the following
steps but those with `if: always()`. The job's `if:` must hold for the given event.

GitLab CI: variables (expanded), default.before_script or the job's, then script, in one `sh -e` shell; the job's
rules must select it. Artifacts and cache are the caller's to carry between jobs.

Kubernetes CronJob: the container's `/bin/sh -c` script, with the Secrets and ConfigMap of envFrom (the context's
secrets and vars) and the container's env, where a value under a volume mount path points into the mapped folder.
"""

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid

import yaml

RUNNER_ERROR = 90


class RecipeError(Exception):
    """Something the recipe does that this runner does not simulate: the test must fail, not guess."""


def say(text):
    print(f"run_recipe: {text}", flush=True)


def expect_keys(mapping, allowed, where):
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        raise RecipeError(f"{where}: {', '.join(map(str, unknown))} is not simulated by this runner")


def run_shell(argv, env, cwd):
    sys.stdout.flush()
    sys.stderr.flush()
    return subprocess.run(argv, env=env, cwd=cwd).returncode


def secrets_in(env, secrets):
    """Which secrets (by name) reach an environment, and under which variable: values are never printed."""
    found = []
    for name, value in sorted(env.items()):
        for secret, secret_value in sorted(secrets.items()):
            if secret_value and value == secret_value:
                found.append(secret if name == secret else f"{secret} (as {name})")
    return ", ".join(found) if found else "none"


# --- GitHub Actions expressions ---------------------------------------------------------------------------------

TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||[()\[\],.])|(?P<id>[A-Za-z_][A-Za-z0-9_-]*))")


def tokenize(text):
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = TOKEN.match(text, position)
        if not match:
            raise RecipeError(f"expression '{text}': cannot read '{text[position:]}'")
        kind = match.lastgroup
        value = match.group(kind)
        tokens.append((kind, value[1:-1].replace("''", "'") if kind == "str" else value))
        position = match.end()
    return tokens


class Expression:
    """The GitHub expression forms the recipes use: vars.X, secrets.X, secrets[format('..{0}..', matrix.X)],
    matrix.X, github.event_name, github.ref and 'literal'; in conditions (a job's if:) also ==, !=, &&, || and
    ( ), and always() in a step's."""

    GITHUB_FIELDS = ("event_name", "ref")

    def __init__(self, text, contexts, operators=False):
        self.text = text
        self.contexts = contexts
        self.operators = operators
        self.tokens = tokenize(text)
        self.position = 0

    def fail(self, why):
        raise RecipeError(f"expression '{self.text}': {why} (not a form this runner supports)")

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else (None, None)

    def take(self, value=None):
        token = self.peek()
        if token[0] is None or (value is not None and token[1] != value):
            self.fail(f"expected {value or 'more'}")
        self.position += 1
        return token

    def evaluate(self):
        value = self.disjunction()
        if self.position != len(self.tokens):
            self.fail(f"unexpected '{self.peek()[1]}'")
        return value

    def operator(self):
        """Takes an operator, which only conditions may hold: a value is a plain reference or a literal."""
        operator = self.take()[1]
        if not self.operators:
            self.fail(f"'{operator}' in a value")
        return operator

    def disjunction(self):
        value = self.conjunction()
        while self.peek()[1] == "||":
            self.operator()
            right = self.conjunction()
            value = value or right
        return value

    def conjunction(self):
        value = self.comparison()
        while self.peek()[1] == "&&":
            self.operator()
            right = self.comparison()
            value = value and right
        return value

    def comparison(self):
        left = self.primary()
        if self.peek()[1] in ("==", "!="):
            operator = self.operator()
            right = self.primary()
            if not isinstance(left, str) or not isinstance(right, str):
                self.fail("only strings are compared")
            # GitHub compares strings ignoring case.
            equal = left.lower() == right.lower()
            return equal if operator == "==" else not equal
        return left

    def primary(self):
        kind, value = self.take()
        if kind == "str":
            return value
        if value == "(":
            if not self.operators:
                self.fail("'(' in a value")
            inner = self.disjunction()
            self.take(")")
            return inner
        if kind != "id":
            self.fail(f"unexpected '{value}'")
        if value == "format":
            self.take("(")
            kind, template = self.take()
            if kind != "str":
                self.fail("format's first argument must be a literal")
            arguments = []
            while self.peek()[1] == ",":
                self.take()
                arguments.append(self.disjunction())
            self.take(")")
            if any(not isinstance(argument, str) for argument in arguments):
                self.fail("format's arguments must be strings")
            return re.sub(r"\{(\d+)\}", lambda m: arguments[int(m.group(1))], template)
        if value == "always":
            self.take("(")
            self.take(")")
            return True
        if value == "fromJSON":
            self.take("(")
            text = self.disjunction()
            self.take(")")
            try:
                return json.loads(text)
            except (TypeError, ValueError):
                raise RecipeError(f"fromJSON of '{text}', which is not JSON")
        if value in ("steps", "needs"):
            # steps.ID.outputs.NAME, needs.JOB.outputs.NAME
            path = []
            for _ in range(3):
                self.take(".")
                kind, part = self.take()
                if kind != "id":
                    self.fail("a property name must follow '.'")
                path.append(part)
            if path[1] != "outputs":
                self.fail(f"{value}.{path[0]}.{path[1]} is not simulated: only .outputs")
            known = self.contexts.get(value, {}).get(path[0], {}).get("outputs", {})
            if path[2] not in known:
                raise RecipeError(f"{value}.{path[0]}.outputs.{path[2]} was not set")
            return known[path[2]]
        if value not in ("vars", "secrets", "matrix", "github"):
            self.fail(f"no context or function '{value}'")
        context = value
        if self.peek()[1] == ".":
            self.take()
            kind, key = self.take()
            if kind != "id":
                self.fail("a property name must follow '.'")
        elif self.peek()[1] == "[" and context == "secrets":
            self.take()
            key = self.disjunction()
            self.take("]")
            if not isinstance(key, str):
                self.fail("a secret's name must be a string")
        else:
            self.fail(f"'{context}' must be followed by .NAME")
        return self.lookup(context, key)

    def lookup(self, context, key):
        if context == "github":
            if key not in self.GITHUB_FIELDS:
                self.fail(f"github.{key} is not simulated")
            if key not in self.contexts["github"]:
                raise RecipeError(f"the context gives no github.{key}")
            return self.contexts["github"][key]
        if context == "matrix":
            if key not in self.contexts["matrix"]:
                raise RecipeError(f"matrix.{key} is not in the matrix entry {self.contexts['matrix']}")
            return str(self.contexts["matrix"][key])
        values = self.contexts[context]
        if key not in values:
            say(f"warning: {context}.{key} is not set: empty, as on GitHub")
            return ""
        return values[key]


def substitute(text, contexts):
    """${{ expr }} in a string, as GitHub substitutes it before the step sees it."""
    if not isinstance(text, str):
        if isinstance(text, bool):
            return "true" if text else "false"
        return "" if text is None else str(text)

    def replace(match):
        value = Expression(match.group(1), contexts).evaluate()
        if isinstance(value, bool):
            return "true" if value else "false"
        return value

    result = re.sub(r"\$\{\{(.*?)\}\}", replace, text, flags=re.S)
    if "${{" in result:
        raise RecipeError(f"an unterminated expression in '{text}'")
    return result


def condition(text, contexts):
    text = str(text).strip()
    match = re.fullmatch(r"\$\{\{(.*)\}\}", text, flags=re.S)
    return bool(Expression(match.group(1) if match else text, contexts, operators=True).evaluate())


# --- GitHub Actions ---------------------------------------------------------------------------------------------

def read_file_commands(path, kind):
    """GITHUB_ENV / GITHUB_OUTPUT: NAME=value lines and NAME<<DELIMITER heredocs."""
    values = {}
    if not os.path.exists(path):
        return values
    lines = open(path, encoding="utf-8").read().split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if line == "":
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while index < len(lines) and lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            if index == len(lines):
                raise RecipeError(f"{kind}: no closing {delimiter} for {name}")
            index += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        else:
            raise RecipeError(f"{kind}: cannot read the line '{line}'")
    return values


def matrix_entries(strategy, contexts):
    """The entries of a matrix: its include list, or the product of its axes (exclude is not simulated); a matrix
    written as ${{ fromJSON(needs.JOB.outputs.NAME) }} is that output, from the context's needs."""
    matrix = strategy.get("matrix", {})
    if isinstance(matrix, str):
        match = re.fullmatch(r"\$\{\{(.*)\}\}", matrix.strip(), flags=re.S)
        if not match:
            raise RecipeError(f"strategy.matrix '{matrix}' is neither a mapping nor an expression")
        matrix = Expression(match.group(1), contexts).evaluate()
        if not isinstance(matrix, dict):
            raise RecipeError(f"strategy.matrix evaluates to {matrix!r}, not a mapping")
    if "exclude" in matrix or ("include" in matrix and len(matrix) > 1):
        raise RecipeError("strategy.matrix: only an include list, or axes without include or exclude, are simulated")
    if "include" in matrix:
        return matrix["include"]
    entries = [{}]
    for key, values in matrix.items():
        entries = [dict(entry, **{key: value}) for entry in entries for value in values]
    return entries


def check_github_script(step, workdir, name):
    script = step.get("with", {}).get("script", "")
    reads = re.findall(r"readFileSync\(([^,)]*)", script)
    guarded = set(re.findall(r"existsSync\('([^']+)'\)", script))
    needed = []
    for argument in reads:
        literal = re.fullmatch(r"\s*'([^']+)'\s*", argument)
        if not literal:
            raise RecipeError(f"step '{name}': readFileSync({argument}) is not a literal path this runner can check")
        needed.append(literal.group(1))
    missing = [path for path in needed if path not in guarded and not os.path.isfile(os.path.join(workdir, path))]
    if missing:
        say(f"step '{name}': the script reads {', '.join(missing)}, which the job did not write")
        return 1
    say(f"step '{name}': actions/github-script skipped (it talks to the GitHub API); "
        f"the files it reads are there: {', '.join(sorted(set(needed))) or 'none'}")
    return 0


def restore_cache(inputs, home, context, name, saves):
    """actions/cache: restore on an exact key hit; on a miss, save the paths when the job has succeeded."""
    if "cache" not in context:
        raise RecipeError(f"step '{name}': the context gives no cache folder")
    paths = [path.strip() for path in inputs["path"].split("\n") if path.strip()]
    if any(path != "~" and not path.startswith("~/") for path in paths):
        raise RecipeError(f"step '{name}': only paths under ~ are simulated")
    targets = [os.path.join(home, path[2:]) for path in paths]
    entry = os.path.join(context["cache"], hashlib.sha256(inputs["key"].encode()).hexdigest())
    if os.path.isdir(entry):
        for index, target in enumerate(targets):
            shutil.copytree(os.path.join(entry, str(index)), target, dirs_exist_ok=True, symlinks=True)
        say(f"step '{name}': cache restored from key {inputs['key']}")
        return 0

    def save():
        if os.path.isdir(entry):
            return
        missing = [path for path, target in zip(paths, targets) if not os.path.isdir(target)]
        if missing:
            say(f"post step '{name}': warning: {', '.join(missing)} not found: nothing saved")
            return
        for index, target in enumerate(targets):
            shutil.copytree(target, os.path.join(entry, str(index)), symlinks=True)
        say(f"post step '{name}': cache saved under key {inputs['key']}")

    saves.append(save)
    say(f"step '{name}': cache not found for key {inputs['key']}")
    return 0


def run_github(recipe, args, context):
    expect_keys(recipe, ["name", True, "on", "permissions", "concurrency", "env", "jobs"], "workflow")
    jobs = recipe.get("jobs", {})
    if args.job not in jobs:
        raise RecipeError(f"no job '{args.job}'; the recipe has {', '.join(jobs)}")
    job = jobs[args.job]
    expect_keys(job, ["if", "runs-on", "permissions", "environment", "strategy", "concurrency", "env", "steps",
                      "needs", "timeout-minutes", "outputs"], f"job {args.job}")
    if not str(job.get("runs-on", "")).startswith("ubuntu-"):
        raise RecipeError(f"job {args.job} runs on {job.get('runs-on')}, not on an ubuntu runner")

    matrix = {}
    if "strategy" in job:
        expect_keys(job["strategy"], ["matrix", "fail-fast", "max-parallel"], f"job {args.job}: strategy")
        if args.matrix is None:
            raise RecipeError(f"job {args.job} has a matrix: give --matrix with one of its entries")
        matrix = json.loads(args.matrix)
        if matrix not in matrix_entries(job["strategy"], {"needs": context.get("needs", {})}):
            raise RecipeError(f"{matrix} is not an entry of job {args.job}'s matrix")
    elif args.matrix is not None:
        raise RecipeError(f"job {args.job} has no matrix")

    github = context.get("github", {})
    contexts = {"vars": context.get("vars", {}), "secrets": context.get("secrets", {}), "matrix": matrix,
                "github": github, "needs": context.get("needs", {}), "steps": {}}
    if "if" in job and not condition(job["if"], contexts):
        raise RecipeError(f"job {args.job} would not run on {github}: if: {job['if']}")

    base = dict(context.get("env", {}))
    for required in ("PATH", "HOME", "RUNNER_TEMP"):
        if required not in base:
            raise RecipeError(f"the context's env must give {required}")
    temp = base["RUNNER_TEMP"]
    os.makedirs(temp, exist_ok=True)
    if os.listdir(temp):
        raise RecipeError(f"RUNNER_TEMP {temp} is not empty: the runner empties it for every job")
    base.update({
        "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": args.workdir, "GITHUB_JOB": args.job,
        "GITHUB_EVENT_NAME": github.get("event_name", ""), "GITHUB_REF": github.get("ref", ""),
        "RUNNER_OS": "Linux",
    })
    declared = {}
    for name, value in (recipe.get("env") or {}).items():
        declared[name] = substitute(value, contexts)
    for name, value in (job.get("env") or {}).items():
        declared[name] = substitute(value, contexts)

    exported, added_path, saves = {}, [], []
    status = 0
    for number, step in enumerate(job.get("steps", []), start=1):
        name = step.get("name") or step.get("uses") or (step.get("run", "").split("\n")[0])
        expect_keys(step, ["name", "id", "uses", "with", "run", "env", "if", "shell"], f"step '{name}'")
        wanted = "success()"
        if "if" in step:
            if str(step["if"]).strip() not in ("always()", "${{ always() }}"):
                raise RecipeError(f"step '{name}': if: {step['if']} (keep conditions out of the steps: only always())")
            wanted = "always()"
        if status != 0 and wanted != "always()":
            say(f"step {number} '{name}': skipped (an earlier step failed)")
            continue
        print(f"::group::step {number}: {name}", flush=True)
        if "uses" in step:
            if "run" in step or "shell" in step or "env" in step:
                raise RecipeError(f"step '{name}': uses with run, shell or env is not simulated")
            action = step["uses"].split("@")[0]
            inputs = {key: substitute(value, contexts) for key, value in (step.get("with") or {}).items()}
            if action == "actions/checkout":
                expect_keys(inputs, [], f"step '{name}'")
                say(f"step '{name}': checkout: the workdir is the fresh clone")
                result = 0
            elif action == "actions/cache":
                expect_keys(inputs, ["path", "key"], f"step '{name}'")
                result = restore_cache(inputs, base["HOME"], context, name, saves)
            elif action == "actions/github-script":
                result = check_github_script(step, args.workdir, name)
            else:
                raise RecipeError(f"step '{name}': the action {action} is not simulated")
        elif "run" in step:
            shell = step.get("shell")
            script_path = os.path.join(temp, f"{uuid.uuid4()}.sh")
            with open(script_path, "w", encoding="utf-8") as script:
                script.write(substitute(step["run"], contexts))
            if shell is None:
                argv = ["bash", "-e", script_path]
            elif shell == "bash":
                argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", script_path]
            elif shell == "sh":
                argv = ["sh", "-e", script_path]
            else:
                raise RecipeError(f"step '{name}': shell {shell} is not simulated")
            commands = os.path.join(temp, "_runner_file_commands", str(number))
            os.makedirs(commands)
            files = {kind: os.path.join(commands, kind.lower()) for kind in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT")}
            for path in files.values():
                open(path, "w").close()
            env = dict(base)
            env.update(declared)
            env.update(exported)
            env.update({name_: substitute(value, contexts) for name_, value in (step.get("env") or {}).items()})
            env.update(files)
            env["PATH"] = ":".join(list(reversed(added_path)) + [base["PATH"]])
            say(f"step '{name}': secrets in its environment: {secrets_in(env, contexts['secrets'])}")
            record = None
            if args.trace_env_prefix:
                record = os.path.join(commands, "trace")
                trace = os.path.join(commands, "trace.sh")
                with open(trace, "w", encoding="utf-8") as hook:
                    # Sourced before the script (BASH_ENV): at its exit, which variables with the prefix it exported.
                    hook.write(f"trap 'for n in $(compgen -e); do case $n in {args.trace_env_prefix}*) "
                               f"printf \"%s=%s\\0\" \"$n\" \"${{!n}}\";; esac; done > {shlex.quote(record)}' EXIT\n")
                env["BASH_ENV"] = trace
            result = run_shell(argv, env, args.workdir)
            if record is not None:
                if os.path.exists(record):
                    pairs = [item.split("=", 1) for item in open(record, encoding="utf-8").read().split("\0") if item]
                    shown = [f"{key} (= {secrets_in({key: value}, contexts['secrets'])})" for key, value in pairs]
                    say(f"step '{name}': exported {args.trace_env_prefix}* at its end: {', '.join(shown) or 'none'}")
                else:
                    say(f"step '{name}': no trace (the step replaced the EXIT trap)")
            exported.update(read_file_commands(files["GITHUB_ENV"], "GITHUB_ENV"))
            outputs = read_file_commands(files["GITHUB_OUTPUT"], "GITHUB_OUTPUT")
            if "id" in step:
                contexts["steps"][step["id"]] = {"outputs": outputs}
            added_path += [line for line in open(files["GITHUB_PATH"], encoding="utf-8").read().split("\n") if line]
        else:
            raise RecipeError(f"step '{name}' has neither uses nor run")
        print("::endgroup::", flush=True)
        say(f"step {number} '{name}': exit {result}")
        if result != 0 and status == 0:
            status = result
    if status == 0:
        for save in saves:
            save()
        if "outputs" in job:
            values = {name: substitute(value, contexts) for name, value in job["outputs"].items()}
            say(f"job {args.job} outputs: {json.dumps(values, sort_keys=True)}")
    say(f"job {args.job}: {'succeeded' if status == 0 else f'failed (exit {status})'}")
    return status


# --- GitLab CI --------------------------------------------------------------------------------------------------

def expand(text, variables):
    """GitLab's expansion of $NAME and ${NAME} in variables (an unknown variable is empty; $$ is a dollar)."""
    def replace(match):
        if match.group(0) == "$$":
            return "$"
        return variables.get(match.group(1) or match.group(2), "")
    return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", replace, str(text))


def gitlab_rule(text, variables):
    """The rules:if forms the recipe uses: $A == "x", $A != "x", $A == $B, joined by && and ||."""
    def operand(value):
        value = value.strip()
        if re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", value):
            return variables.get(value[1:])
        if re.fullmatch(r'"[^"]*"', value) or re.fullmatch(r"'[^']*'", value):
            return value[1:-1]
        raise RecipeError(f"rules if '{text}': '{value}' is not a form this runner supports")

    def comparison(part):
        match = re.fullmatch(r"\s*(\S+)\s*(==|!=)\s*(\S+)\s*", part)
        if not match:
            raise RecipeError(f"rules if '{text}': '{part}' is not a form this runner supports")
        left, right = operand(match.group(1)), operand(match.group(3))
        return (left == right) if match.group(2) == "==" else (left != right)

    if "(" in text or "=~" in text:
        raise RecipeError(f"rules if '{text}': not a form this runner supports")
    return any(all(comparison(part) for part in alternative.split("&&")) for alternative in text.split("||"))


def run_gitlab(recipe, args, context):
    reserved = {"stages", "variables", "default", "workflow", "include", "image", "services", "before_script",
                "after_script", "cache"}
    expect_keys(recipe, [key for key in recipe if key not in reserved] + ["stages", "variables", "default"], "pipeline")
    if args.job in reserved or args.job.startswith(".") or args.job not in recipe:
        raise RecipeError(f"no job '{args.job}'")
    if args.matrix is not None:
        raise RecipeError("GitLab jobs here have no matrix")
    job = recipe[args.job]
    expect_keys(job, ["stage", "script", "before_script", "rules", "artifacts", "cache", "needs", "resource_group",
                      "environment", "variables", "image"], f"job {args.job}")
    default = recipe.get("default", {})
    expect_keys(default, ["image", "cache", "before_script"], "default")

    base = dict(context.get("env", {}))
    for required in ("PATH", "HOME"):
        if required not in base:
            raise RecipeError(f"the context's env must give {required}")
    predefined = {"CI": "true", "GITLAB_CI": "true", "CI_PROJECT_DIR": args.workdir, "CI_JOB_NAME": args.job,
                  "CI_JOB_STAGE": str(job.get("stage", "test"))}
    predefined.update(context.get("gitlab", {}))
    settings = dict(context.get("vars", {}))
    settings.update(context.get("secrets", {}))
    variables = dict(predefined)
    for name, value in list((recipe.get("variables") or {}).items()) + list((job.get("variables") or {}).items()):
        if isinstance(value, dict):
            raise RecipeError(f"variable {name}: only plain values are simulated")
        variables[name] = expand(value, {**settings, **variables})
    # CI/CD variables of the project win over those of the file.
    variables.update(settings)

    rules = job.get("rules")
    if rules is not None:
        chosen = None
        for rule in rules:
            expect_keys(rule, ["if"], f"job {args.job}: rule")
            if gitlab_rule(rule["if"], variables):
                chosen = rule
                break
        if chosen is None:
            raise RecipeError(f"job {args.job} would not run in this pipeline ({context.get('gitlab', {})})")

    before = job.get("before_script", default.get("before_script", []))
    commands = list(before) + list(job.get("script", []))
    if not commands or any(not isinstance(command, str) for command in commands):
        raise RecipeError(f"job {args.job}: before_script and script must be lists of strings")
    # One shell for the whole job, each command echoed first, as the GitLab runner does.
    text = "".join(f"printf '%s\\n' {shlex.quote('$ ' + command)}\n{command}\n" for command in commands)
    temp = base.get("TMPDIR", "/tmp")
    os.makedirs(temp, exist_ok=True)
    script_path = os.path.join(temp, f"gitlab-{args.job}-{uuid.uuid4()}.sh")
    with open(script_path, "w", encoding="utf-8") as script:
        script.write(text)
    env = dict(base)
    env.update(variables)
    say(f"job {args.job}: secrets in its environment: {secrets_in(env, context.get('secrets', {}))}")
    status = run_shell(["sh", "-e", script_path], env, args.workdir)
    os.remove(script_path)
    say(f"job {args.job}: {'succeeded' if status == 0 else f'failed (exit {status})'}")
    return status


# --- Kubernetes CronJob -----------------------------------------------------------------------------------------

def run_cronjob(recipe, args, context):
    """A CronJob's container, or one pod of an Indexed Job (its completion index from the context's index)."""
    env = dict(context.get("env", {}))
    if recipe.get("kind") == "CronJob":
        pod = recipe["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    elif recipe.get("kind") == "Job" and recipe["spec"].get("completionMode") == "Indexed":
        pod = recipe["spec"]["template"]["spec"]
        index = context.get("index")
        if not isinstance(index, int) or not 0 <= index < recipe["spec"].get("completions", 1):
            raise RecipeError(f"the context's index {index!r} is not a completion index of the Job")
        env["JOB_COMPLETION_INDEX"] = str(index)
    else:
        raise RecipeError("neither a CronJob nor an Indexed Job")
    containers = {container["name"]: container for container in pod.get("containers", [])}
    if args.job not in containers:
        raise RecipeError(f"no container '{args.job}'; the CronJob has {', '.join(containers)}")
    if pod.get("initContainers"):
        raise RecipeError("init containers are not simulated")
    container = containers[args.job]
    expect_keys(container, ["name", "image", "command", "args", "envFrom", "env", "resources", "volumeMounts",
                            "securityContext"], f"container {args.job}")
    if container.get("command") != ["/bin/sh", "-c"] or len(container.get("args", [])) != 1:
        raise RecipeError("only command [/bin/sh, -c] with one script in args is simulated")
    script = container["args"][0]

    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    mounts = context.get("mounts", {})
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"], {})
        # A Secret mounted as files is a folder of the context's that holds them.
        if "secret" not in volume and "emptyDir" not in volume:
            raise RecipeError(f"volume {mount['name']} is neither an emptyDir nor a Secret, which this runner simulates")
        if mount["mountPath"] not in mounts:
            raise RecipeError(f"the context maps no folder for the volume mount {mount['mountPath']}")
        if mount["mountPath"] in script:
            raise RecipeError(f"the script names {mount['mountPath']} itself: it could not be mapped")
    if set(mounts) - {mount["mountPath"] for mount in container.get("volumeMounts", [])}:
        raise RecipeError("the context maps a folder the container does not mount")

    def mapped(value):
        for path, folder in mounts.items():
            if value == path or value.startswith(path + "/"):
                return folder + value[len(path):]
        return value

    for source in container.get("envFrom", []):
        expect_keys(source, ["secretRef", "configMapRef"], "envFrom")
    # The Secrets and the ConfigMap of envFrom are the context's secrets and vars; env entries win over them.
    env.update(context.get("vars", {}))
    env.update(context.get("secrets", {}))
    for entry in container.get("env", []):
        expect_keys(entry, ["name", "value"], f"env {entry.get('name')}")
        env[entry["name"]] = mapped(str(entry["value"]))
    say(f"container {args.job}: secrets in its environment: {secrets_in(env, context.get('secrets', {}))}")
    status = run_shell(["/bin/sh", "-c", script], env, args.workdir)
    say(f"container {args.job}: {'succeeded' if status == 0 else f'failed (exit {status})'}")
    return status


def main():
    parser = argparse.ArgumentParser(description="Run one job of a CI recipe.")
    parser.add_argument("--recipe", required=True)
    parser.add_argument("--job", required=True)
    parser.add_argument("--matrix")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--context", required=True, help="a JSON object, or @FILE")
    parser.add_argument("--trace-env-prefix", help="GitHub: report the variables with this prefix each step exported")
    args = parser.parse_args()
    args.workdir = os.path.abspath(args.workdir)
    try:
        text = args.context
        context = json.load(open(text[1:])) if text.startswith("@") else json.loads(text)
        with open(args.recipe, encoding="utf-8") as file:
            recipe = yaml.safe_load(file)
        if not os.path.isdir(args.workdir):
            raise RecipeError(f"the workdir {args.workdir} does not exist")
        if isinstance(recipe, dict) and "jobs" in recipe:
            status = run_github(recipe, args, context)
        elif isinstance(recipe, dict) and "stages" in recipe:
            status = run_gitlab(recipe, args, context)
        elif isinstance(recipe, dict) and recipe.get("kind") in ("CronJob", "Job"):
            status = run_cronjob(recipe, args, context)
        else:
            raise RecipeError(f"{args.recipe} is neither a GitHub workflow, a GitLab pipeline nor a Kubernetes Job")
    except RecipeError as error:
        print(f"run_recipe: error: {error}", file=sys.stderr, flush=True)
        return RUNNER_ERROR
    return status


if __name__ == "__main__":
    sys.exit(main())
