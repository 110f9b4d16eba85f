"""The `dingate` command line."""
import sys

import click

from . import boards


@click.group()
@click.version_option(package_name="dingate")
def main():
    """dingate host tools: build, emulate, flash, deploy and provision the gateway."""


@main.command("build")
@click.option("--board", default="emulator", show_default=True,
              help="board file in boards/ (or a path to one); `all` builds every board")
@click.option("--update-key", default=None, type=click.Path(dir_okay=False),
              help="key file the update bundle is signed with (default $DINGATE_UPDATE_KEY, "
                   "else build/update.key: a development key made on first use)")
def build_cmd(board, update_key):
    """Compile the firmware (mpy-cross) and write build/fs.img, a littlefs2 image, and the
    board's update bundle build/<board>/firmware.tar."""
    from . import build, fwkey

    # `all`: the emulator's board last, so build/fs.img and build/firmware.tar stay the emulator's
    every = sorted(boards.names(), key=lambda n: n == "emulator")
    for name in every if board == "all" else [board]:
        try:
            path, files = build.build(name, update_key=update_key)
        except (boards.BoardError, build.BuildError, fwkey.UpdateKeyError) as e:
            raise click.ClickException(str(e))
        size = sum(len(d) for d in files.values())
        b = boards.load(name)
        click.echo("built %s for board %s: %d files, %d bytes (code from %s)" % (
            path, b["name"], len(files), size, boards.code_location(b)))
        click.echo("  firmware update bundle: %s (signed with the update key %s)" % (
            build.bundle_path(b["name"]), fwkey.key_path(update_key)))


@main.command("emulate")
@click.option("--http-port", default=8080, show_default=True, type=int)
@click.option("--control-port", default=8081, show_default=True, type=int,
              help="the emulated hardware panel (/api/hw)")
@click.option("--state-dir", default=".dingate", show_default=True,
              help="the emulated device's flash; reuse = reboot, new = new device")
@click.option("--admin-password", default=None, help="admin password of a fresh device")
@click.option("--scenario", default=None, type=click.Path(exists=True, dir_okay=False),
              help="JSON world: devices on the bus, Wi-Fi networks")
@click.option("--bus", default=None, help="tcp://HOST:PORT (RTU over TCP) or a serial device path")
@click.option("--repl-port", default=None, type=int, help="the device's REPL on a TCP port")
@click.option("--quiet", is_flag=True, help="do not echo the device console")
@click.option("--board", default="emulator", show_default=True,
              help="the board to play (boards/<name>.json): its flash layout, pins, heap budget")
@click.option("--download-mode", is_flag=True,
              help="hold the board in ROM download mode: --repl-port speaks esptool's protocol")
@click.option("--rfc2217-port", default=None, type=int,
              help="a chip board's USB bridge with DTR/RTS (RFC 2217): esptool's automatic reset")
def emulate_cmd(http_port, control_port, state_dir, admin_password, scenario, bus, repl_port, quiet,
                board, download_mode, rfc2217_port):
    """Run the real firmware under MicroPython with emulated hardware."""
    from .emulator import runner

    if admin_password is not None and len(admin_password) < 8:
        raise click.BadParameter("at least 8 characters", param_hint="--admin-password")
    if download_mode and not repl_port:
        raise click.BadParameter("--download-mode needs --repl-port", param_hint="--download-mode")
    try:
        boards.load(board)
    except boards.BoardError as e:
        raise click.BadParameter(str(e), param_hint="--board")
    sys.exit(runner.run(http_port=http_port, control_port=control_port, state_dir=state_dir,
                        admin_password=admin_password, scenario=scenario, bus=bus,
                        repl_port=repl_port, quiet=quiet, board=board,
                        download_mode=download_mode, rfc2217_port=rfc2217_port))


@main.command("flash")
@click.option("--port", required=True, help="the board's serial port, e.g. /dev/ttyUSB0 (or socket://HOST:PORT)")
@click.option("--board", default="esp32s3-devkitc-n16r8-max485", show_default=True,
              help="board file in boards/ (or a path to one)")
@click.option("--firmware", type=click.Path(dir_okay=False), default=None,
              help="the MicroPython image (.bin); default: the board file's pinned official image")
@click.option("--baud", default=460800, show_default=True, type=int)
@click.option("--skip-partition-check", is_flag=True,
              help="flash even if the firmware's partition table does not match the board file "
                   "(its chip is checked all the same)")
def flash_cmd(port, board, firmware, baud, skip_partition_check):
    """Write MicroPython and the gateway's filesystem (build/<board>/fs.img, and romfs.img on a
    ROMFS board) in one esptool run, verified."""
    from . import flash

    try:
        code = flash.flash(port, board, firmware, baud=baud, check=not skip_partition_check,
                           log=click.echo)
    except (boards.BoardError, flash.FlashError) as e:
        raise click.ClickException(str(e))
    if code:
        raise click.ClickException("esptool failed (exit %d)" % code)
    click.echo("flashed %s: MicroPython and the gateway's filesystem. Next: dingate provision "
               "--port %s" % (board, port))


@main.command("deploy")
@click.option("--port", required=True, help="serial device or socket://HOST:PORT")
@click.option("--board", default=None, help="board file (default: the board's own /board.json)")
@click.option("--build-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="deploy this filesystem tree instead of building build/<board>/fs")
@click.option("--no-reset", is_flag=True,
              help="leave the board in its REPL afterwards (a watchdog set by the board file "
                   "still restarts it after its timeout)")
def deploy_cmd(port, board, build_dir, no_reset):
    """Copy only what changed (littlefs files and the ROMFS) to a running board, then reset it."""
    from . import deploy

    click.echo("deploy to %s" % port)
    try:
        report = deploy.deploy(port, board=board, build_dir=build_dir, reset=not no_reset,
                               log=click.echo)
    except deploy.DeployError as e:
        raise click.ClickException(str(e))
    click.echo("deployed %s: %s" % (report.board, report.summary()))


@main.command("provision")
@click.option("--port", required=True, help="serial device or socket://HOST:PORT")
@click.option("--serial", default=None, help="serial number (default: DG + the MAC's last 6 hex)")
@click.option("--out", default="labels", show_default=True, type=click.Path(file_okay=False),
              help="folder for the label PNG")
@click.option("--update-key", default=None, type=click.Path(dir_okay=False),
              help="key file the board's firmware bundles must be signed with (default "
                   "$DINGATE_UPDATE_KEY, else build/update.key)")
def provision_cmd(port, serial, out, update_key):
    """Give a board its serial, AP and admin passwords; write its label (PNG with a Wi-Fi QR)."""
    from . import provision

    try:
        ident = provision.provision(port, serial=serial, out_dir=out, update_key=update_key)
    except provision.ProvisionError as e:
        raise click.ClickException(str(e))
    # the one console print of the secrets (the label holds them too)
    click.echo("provisioned %s; the board restarts with its new identity" % ident["serial"])
    click.echo("  serial          : %s" % ident["serial"])
    click.echo("  Wi-Fi AP        : %s" % ident["ap_ssid"])
    click.echo("  Wi-Fi password  : %s" % ident["ap_password"])
    click.echo("  admin login     : %s / %s  (change it at first login)" % (
        ident["admin_user"], ident["admin_password"]))
    click.echo("  label           : %s" % ident["label"])


@main.command("console")
@click.option("--port", required=True, help="serial device or socket://HOST:PORT")
def console_cmd(port):
    """The board's console and REPL (mpremote repl; Ctrl-] or Ctrl-X leaves)."""
    from . import console

    try:
        console.console(port)
    except console.ConsoleError as e:
        raise click.ClickException(str(e))


@main.command("statement")
@click.option("--from-backup", "backup", type=click.Path(exists=True, dir_okay=False),
              default=None, help="a backup file (GET /api/backup) with the billing data")
@click.option("--url", default=None, help="a running device, e.g. http://192.168.4.1")
@click.option("--user", default="admin", show_default=True, help="login for --url")
@click.option("--password", envvar="DINGATE_PASSWORD", default=None,
              help="password for --url (or $DINGATE_PASSWORD)")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--meter", "meters", multiple=True, help="meter id (repeat; default: all)")
@click.option("--part", type=int, default=None, help="a month's part after a tenant reset")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "html", "summary"]), default="csv",
              show_default=True, help="summary: one CSV table of the month, a line per statement (for the accounts)")
@click.option("--lang", type=click.Choice(["en", "fr", "nl"]), default=None,
              help="html: the statements' language (default: the device's language setting)")
@click.option("--out", default=".", show_default=True, type=click.Path(file_okay=False))
def statement_cmd(backup, url, user, password, month, meters, part, fmt, lang, out):
    """Monthly billing statements of a building: one file per meter (html: one printable file;
    summary: one table of every statement of the month)."""
    from . import statements

    if bool(backup) == bool(url):
        raise click.UsageError("give either --from-backup FILE or --url URL")
    try:
        if backup:
            sts, settings = statements.from_backup(backup, month, list(meters), part, fmt == "summary")
        else:
            if password is None:
                password = click.prompt("password", hide_input=True)
            sts, settings = statements.from_url(url, user, password, month, list(meters), part,
                                                fmt == "summary")
        if not sts:
            raise click.ClickException(
                "no statement for %s: no meter has a billing reading in that month (they are "
                "taken every hour at +2 min; a new meter's first one comes within the hour)" % month)
        for p in statements.write(sts, settings, fmt, out, lang):
            click.echo(p)
    except statements.StatementError as e:
        raise click.ClickException(str(e))


if __name__ == "__main__":
    main()
