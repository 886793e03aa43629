package pluginhost

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel send SIGTERM to the adapter when the
// core dies, even by SIGKILL: the SDK then lets in-flight sends finish and
// reach its journal, and exits. The SDK also exits when it sees its parent
// change, which covers systems without this signal.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
}
