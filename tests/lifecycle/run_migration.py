"""Invoke one release's migration function: `python run_migration.py '<event JSON>'`.

PYTHONPATH names the release's root. Logs go to stderr, as Lambda's runtime sends them to
CloudWatch; the last line on stdout is `{"module": ..., "result": ...}`. A raised exception
exits 1 with its traceback, as the function's error fails a CDK trigger.
"""

import json
import logging
import sys


def main() -> None:
    """Run the handler on the event in argv[1] and print what it answered."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    from lambda_app import migrate

    result = migrate.handler(json.loads(sys.argv[1]))
    print(json.dumps({"module": migrate.__file__, "result": result}))


if __name__ == "__main__":
    main()
