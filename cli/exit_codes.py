"""What `mallcrm`'s exit codes mean: one meaning per code, for every sub-command.

0   done
1   the work ran and found a failure: a dbt model or test, a data contract, a
    health problem, a tampered audit log, an unusable suppression list; a dbt
    selection that matches nothing; or an unexpected error (one sentence; the
    traceback with `mallcrm --debug ...`)
2   the command line was wrong (unknown option, bad value, unknown dataset): nothing ran
3   input was refused or needs attention: an export file (its rows are in
    quarantine), a file in the inbox whose name or folder fits no export of the
    contract (not read: impossible date, unknown entity or system), or a
    data-subject request file; the rest was processed
4   an ML model did not beat its baseline and was not promoted
66  there is no warehouse yet (nothing was loaded): run `mallcrm ingest` or `make demo`
    first; nothing was created
74  the warehouse could not be written (disk full, read-only, permissions);
    what was committed stays, run the command again when fixed
75  another process is writing the warehouse; nothing was changed, run again later
"""

OK = 0
FAILED = 1
USAGE = 2  # click's own code for usage errors
REFUSED_INPUT = 3  # also: input that needs attention (a misnamed inbox file)
MODEL_NOT_PROMOTED = 4
NO_WAREHOUSE = 66  # EX_NOINPUT
STORAGE = 74  # EX_IOERR
BUSY = 75  # EX_TEMPFAIL
