"""The embedded PostgreSQL outlasting pgserver's start-up wait (after an unclean stop,
crash recovery can take a minute): Tessera waits for it instead of failing."""

from __future__ import annotations

import contextlib
import os
import subprocess

import pgserver.postgres_server as pgserver_module

from config import embedded


def test_a_start_that_outlasts_pgservers_wait_is_waited_for(tmp_path, monkeypatch, capsys):
    real_pg_ctl = pgserver_module.pg_ctl
    starts: list[list[str]] = []

    def impatient_pg_ctl(args, **kwargs):
        if args[-1] == "start" and not starts:
            starts.append(args)
            # The real server starts (pg_ctl without -w returns at once) and goes on
            # starting, while pgserver's wait gives up, as it does in a long recovery.
            real_pg_ctl([a for a in args if a != "-w"], **kwargs)
            raise subprocess.TimeoutExpired(cmd="pg_ctl start", timeout=10)
        return real_pg_ctl(args, **kwargs)

    monkeypatch.setattr(pgserver_module, "pg_ctl", impatient_pg_ctl)
    data_dir = tmp_path / "pg"
    try:
        fields = embedded.postgres_settings(tmp_path)
        assert starts, "the start did not give up early: nothing was tested"
        assert "recovering after an unclean stop" in capsys.readouterr().err
        assert fields["HOST"] == str(data_dir)
        monkeypatch.setattr(pgserver_module, "pg_ctl", real_pg_ctl)
        server = pgserver_module.get_server(str(data_dir), cleanup_mode=None)
        assert "(1 row)" in server.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{embedded.DATABASE_NAME}';"
        )
    finally:
        # As pgserver runs it: as its own system user when the tests run as root.
        user = "pgserver" if os.geteuid() == 0 else None
        with contextlib.suppress(subprocess.CalledProcessError):  # never started
            real_pg_ctl(["-m", "immediate", "stop"], pgdata=data_dir, user=user)
