"""Run the core test modules under the MicroPython unix port.

Usage: micropython tests/mp_run.py test_a test_b ...   (MICROPYPATH holds firmware/ and tests/core/)
Each module's top-level ``test_*`` functions are called; the last line is ``N passed, N failed``.
"""
import sys


def run(names):
    passed = failed = 0
    for name in names:
        try:
            mod = __import__(name)
        except Exception as e:  # a module MicroPython cannot even import fails as a whole
            failed += 1
            print("FAIL import %s" % name)
            sys.print_exception(e)
            continue
        for attr in sorted(dir(mod)):
            if not attr.startswith("test_"):
                continue
            fn = getattr(mod, attr)
            if not callable(fn):
                continue
            try:
                fn()
                passed += 1
            except Exception as e:  # report and go on: every failure is listed
                failed += 1
                print("FAIL %s.%s" % (name, attr))
                sys.print_exception(e)
        print("micropython %s ok" % name)
    print("micropython: %d passed, %d failed" % (passed, failed))
    return failed


if __name__ == "__main__":
    sys.exit(1 if run(sys.argv[1:]) else 0)
