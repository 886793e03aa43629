package pluginhost

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill the adapter when the core dies,
// even by SIGKILL. The SDK also exits when it sees its parent change, which
// covers systems without this signal.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
