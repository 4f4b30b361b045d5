#!/usr/bin/env python3
"""A `cvc5` command over the cvc5 Python API, for what Cedar's symbolic
compiler asks of it.

PyPI's cvc5 wheel ships the solver and its SMT-LIB parser as a library, with
no executable. This reads SMT-LIB commands on stdin and answers on stdout as
`cvc5 --lang smt` does, one command at a time, so that a program talking to
cvc5 through pipes (as `orchestrator-mcp policy diff` and `policy verify` do)
gets its answers as soon as it asks. `(reset)` starts a fresh solver with the
command line's options.

Options: `--lang smt` (the only language), `--version`, and `--NAME=VALUE`
for any cvc5 option (`--tlimit-per=60000`).
"""
import sys

try:
    import cvc5
except ImportError:
    sys.stderr.write(
        "cvc5-command.py: the cvc5 Python package is missing; run tools/cvc5/install.sh\n"
    )
    sys.exit(2)


def commands(stream):
    """Yields the top-level SMT-LIB s-expressions of `stream` as they end."""
    text, depth, in_string, in_symbol = [], 0, False, False
    for line in stream:
        for char in line:
            if in_string:
                text.append(char)
                if char == '"':
                    in_string = False
                continue
            if in_symbol:
                text.append(char)
                if char == "|":
                    in_symbol = False
                continue
            if char == ";":
                break  # a comment, to the end of the line
            if depth == 0 and char.isspace():
                continue
            text.append(char)
            if char == '"':
                in_string = True
            elif char == "|":
                in_symbol = True
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    yield "".join(text)
                    text = []


def options(argv):
    """The `--NAME=VALUE` options of the command line, as (name, value)."""
    found = []
    args = iter(argv)
    for arg in args:
        if arg == "--lang":
            language = next(args, "")
            if language not in ("smt", "smt2", "smtlib2.6"):
                sys.stderr.write("cvc5-command.py: only --lang smt is supported\n")
                sys.exit(2)
        elif arg.startswith("--") and "=" in arg:
            name, value = arg[2:].split("=", 1)
            if name != "lang":
                found.append((name, value))
        else:
            sys.stderr.write("cvc5-command.py: unknown argument %r\n" % arg)
            sys.exit(2)
    return found


def main():
    if "--version" in sys.argv[1:]:
        from importlib.metadata import version

        print("This is cvc5 version %s (cvc5-command.py over the cvc5 Python API)" % version("cvc5"))
        return 0
    wanted = options(sys.argv[1:])
    terms = cvc5.TermManager()

    def fresh():
        solver = cvc5.Solver(terms)
        for name, value in wanted:
            solver.setOption(name, value)
        symbols = cvc5.SymbolManager(terms)
        return solver, symbols, cvc5.InputParser(solver, symbols)

    solver, symbols, parser = fresh()
    for text in commands(sys.stdin):
        parser.setStringInput(cvc5.InputLanguage.SMT_LIB_2_6, text, "stdin")
        try:
            command = parser.nextCommand()
        except RuntimeError as err:
            # cvc5 stops at a parse error; so does this.
            sys.stdout.write('(error "Parse Error: %s")\n' % str(err).replace('"', "'"))
            sys.stdout.flush()
            return 1
        if command.isNull():
            continue
        name = command.getCommandName()
        if name == "reset":
            solver, symbols, parser = fresh()
            continue
        if name == "exit":
            return 0
        try:
            said = command.invoke(solver, symbols)
        except RuntimeError as err:
            said = '(error "%s")' % str(err).replace('"', "'")
        if said:
            sys.stdout.write(said if said.endswith("\n") else said + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
