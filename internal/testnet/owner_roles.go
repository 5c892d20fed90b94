package testnet

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func init() {
	roles["tcp-obey"] = tcpObey
	roles["tcp-obey-fd"] = tcpObeyFD
}

// tcpObey ADDR DIR: connect to ADDR, say ready, then obey the commands
// that arrive on stdin, one a line, until it ends (then close):
//
//	send N          send N bytes
//	name NAME       rename the process (its leader's comm, as prctl
//	                PR_SET_NAME in a single-threaded program does)
//	exec NAME       exec this binary again as NAME, which keeps the
//	                connection and the pid and goes on obeying
//	fork NAME FILE  start NAME, which inherits the connection and goes on
//	                obeying the commands written to the FIFO DIR/NAME.in,
//	                write its pid to FILE, and exit
//
// DIR is where the links named NAME are made (the name of the link a
// program runs as is its comm).
func tcpObey(args []string) error {
	c, err := net.Dial("tcp", args[0])
	if err != nil {
		return err
	}
	ready(0)
	return obey(c.(*net.TCPConn), args[1], os.Stdin)
}

// tcpObeyFD FD DIR [IN]: tcpObey on the connection at descriptor FD,
// with the commands from the file IN if given.
func tcpObeyFD(args []string) error {
	c, err := net.FileConn(os.NewFile(uintptr(atoi(args[0])), "conn"))
	if err != nil {
		return err
	}
	cmds := os.Stdin
	if len(args) > 2 {
		if cmds, err = os.Open(args[2]); err != nil {
			return err
		}
	}
	return obey(c.(*net.TCPConn), args[1], cmds)
}

func obey(c *net.TCPConn, dir string, cmds *os.File) error {
	defer c.Close()
	in := bufio.NewScanner(cmds)
	for in.Scan() {
		f := strings.Fields(in.Text())
		var err error
		switch f[0] {
		case "send":
			_, err = c.Write(make([]byte, atoi(f[1])))
		case "name":
			err = os.WriteFile("/proc/self/comm", []byte(f[1]), 0)
		case "exec":
			err = execKeeping(c, dir, f[1])
		case "fork":
			return forkKeeping(c, dir, f[1], f[2])
		default:
			err = fmt.Errorf("unknown command %q", f[0])
		}
		if err != nil {
			return err
		}
	}
	return in.Err()
}

// linkAs makes a link named name in dir to this binary, and returns it
// with a descriptor of the connection to hand it.
func linkAs(c *net.TCPConn, dir, name string) (string, *os.File, error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	link := filepath.Join(dir, name)
	if err := os.Symlink(self, link); err != nil {
		return "", nil, err
	}
	f, err := c.File()
	return link, f, err
}

// execKeeping execs this binary as name with the connection kept open
// across the exec (no close-on-exec) at the same descriptor.
func execKeeping(c *net.TCPConn, dir, name string) error {
	link, f, err := linkAs(c, dir, name)
	if err != nil {
		return err
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil {
		return err
	}
	return syscall.Exec(link, []string{link, strconv.Itoa(int(f.Fd())), dir}, roleEnviron("tcp-obey-fd"))
}

// roleEnviron is this process's environment with role as the helper's.
func roleEnviron(role string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, roleEnv+"=") {
			env = append(env, kv)
		}
	}
	return append(env, roleEnv+"="+role)
}

// forkKeeping starts this binary as name with the connection, obeying the
// FIFO dir/name.in (the test's end of our stdin closes when we exit),
// writes its pid to pidFile and returns: the caller exits, leaving the
// connection to the child.
func forkKeeping(c *net.TCPConn, dir, name, pidFile string) error {
	link, f, err := linkAs(c, dir, name)
	if err != nil {
		return err
	}
	fifo := link + ".in"
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		return err
	}
	child := exec.Command(link, "3", dir, fifo)
	child.Env = roleEnviron("tcp-obey-fd")
	child.Stderr, child.ExtraFiles = os.Stderr, []*os.File{f}
	if err := child.Start(); err != nil {
		return err
	}
	return os.WriteFile(pidFile, []byte(strconv.Itoa(child.Process.Pid)), 0o644)
}
