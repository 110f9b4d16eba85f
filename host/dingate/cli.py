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


if __name__ == "__main__":
    main()
