"""The `dingate` command line."""
import sys

import click

from . import boards


@click.group()
@click.version_option(package_name="dingate")
def main():
    """dingate host tools: build, emulate, flash, deploy and provision the gateway."""


@main.command("build")
@click.option("--board", default="emulator", show_default=True, help="board file in boards/")
def build_cmd(board):
    """Compile the firmware (mpy-cross) and write build/fs.img, a littlefs2 image."""
    from . import build

    try:
        path, files = build.build(board)
    except (boards.BoardError, build.BuildError) as e:
        raise click.ClickException(str(e))
    size = sum(len(d) for d in files.values())
    click.echo("built %s for board %s: %d files, %d bytes" % (path, board, len(files), size))


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
def emulate_cmd(http_port, control_port, state_dir, admin_password, scenario, bus, repl_port, quiet):
    """Run the real firmware under MicroPython with emulated hardware."""
    from .emulator import runner

    if admin_password is not None and len(admin_password) < 8:
        raise click.BadParameter("at least 8 characters", param_hint="--admin-password")
    sys.exit(runner.run(http_port=http_port, control_port=control_port, state_dir=state_dir,
                        admin_password=admin_password, scenario=scenario, bus=bus,
                        repl_port=repl_port, quiet=quiet))


@main.command("flash")
@click.option("--port", required=True, help="the board's serial port, e.g. /dev/ttyUSB0")
@click.option("--board", default="esp32-devkitc-max485", show_default=True, help="board file in boards/")
@click.option("--firmware", type=click.Path(dir_okay=False), default=None,
              help="the MicroPython firmware image (.bin) the board needs")
@click.option("--baud", default=460800, show_default=True, type=int)
@click.option("--skip-partition-check", is_flag=True,
              help="flash even if the firmware's partition table does not match the board file")
def flash_cmd(port, board, firmware, baud, skip_partition_check):
    """Erase the board and write MicroPython, build/<board>/romfs.img and fs.img (esptool)."""
    from . import flash

    try:
        code = flash.flash(port, board, firmware, baud=baud, check=not skip_partition_check)
    except (boards.BoardError, flash.FlashError) as e:
        raise click.ClickException(str(e))
    if code:
        raise click.ClickException("esptool failed (exit %d)" % code)
    click.echo("flashed %s: MicroPython, ROMFS and filesystem. Next: dingate provision --port %s"
               % (board, port))


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
def provision_cmd(port, serial, out):
    """Give a board its serial, AP and admin passwords; write its label (PNG with a Wi-Fi QR)."""
    from . import provision

    try:
        ident = provision.provision(port, serial=serial, out_dir=out)
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


if __name__ == "__main__":
    main()
