package trace

import (
	"path"
	"sync"
)

// specs are the decoders of the host functions, by name: their parameters
// in order as "name:kind", out-pointers marked ">". A spec is used only when
// it covers exactly the function's parameters, so the 2022 forms of WASIX
// functions and functions added later (with no spec) show raw arguments.
var specs = sync.OnceValue(func() map[string]string {
	return map[string]string{
		// preview1
		"args_get":                "argv:ptr,buf:ptr",
		"args_sizes_get":          ">argc:ou32,>size:ou32",
		"environ_get":             "environ:ptr,buf:ptr",
		"environ_sizes_get":       ">count:ou32,>size:ou32",
		"clock_res_get":           "id:clock,>res:ou64",
		"clock_time_get":          "id:clock,precision:u64,>time:ou64",
		"fd_advise":               "fd:fd,offset:u64,len:u64,advice:advice",
		"fd_allocate":             "fd:fd,offset:u64,len:u64",
		"fd_close":                "fd:fd",
		"fd_datasync":             "fd:fd",
		"fd_fdstat_get":           "fd:fd,>stat:fdstat",
		"fd_fdstat_set_flags":     "fd:fd,flags:fdflags",
		"fd_fdstat_set_rights":    "fd:fd,base:rights,inheriting:rights",
		"fd_filestat_get":         "fd:fd,>stat:filestat",
		"fd_filestat_set_size":    "fd:fd,size:u64",
		"fd_filestat_set_times":   "fd:fd,atim:u64,mtim:u64,flags:fstflags",
		"fd_pread":                "fd:fd,iovs:iovs,offset:u64,>nread:nread",
		"fd_prestat_get":          "fd:fd,prestat:ptr",
		"fd_prestat_dir_name":     "fd:fd,buf:buf",
		"fd_pwrite":               "fd:fd,iovs:ciovs,offset:u64,>nwritten:nwritten",
		"fd_read":                 "fd:fd,iovs:iovs,>nread:nread",
		"fd_readdir":              "fd:fd,buf:buf,cookie:u64,>used:ou32",
		"fd_renumber":             "fd:fd,to:fd",
		"fd_seek":                 "fd:fd,offset:i64,whence:whence,>pos:ou64",
		"fd_sync":                 "fd:fd",
		"fd_tell":                 "fd:fd,>pos:ou64",
		"fd_write":                "fd:fd,iovs:ciovs,>nwritten:nwritten",
		"path_create_directory":   "fd:fd,path:path",
		"path_filestat_get":       "fd:fd,flags:lookup,path:path,>stat:filestat",
		"path_filestat_set_times": "fd:fd,flags:lookup,path:path,atim:u64,mtim:u64,fst:fstflags",
		"path_link":               "oldfd:fd,flags:lookup,old:path,newfd:fd,new:path",
		"path_open":               "fd:fd,lookup:lookup,path:path,oflags:oflags,rights:rights,inheriting:rights,fdflags:fdflags,>fd:newfd",
		"path_readlink":           "fd:fd,path:path,buf:buf,>len:ou32",
		"path_remove_directory":   "fd:fd,path:path",
		"path_rename":             "fd:fd,old:path,newfd:fd,new:path",
		"path_symlink":            "old:path,fd:fd,new:path",
		"path_unlink_file":        "fd:fd,path:path",
		"poll_oneoff":             "subs:subs",
		"proc_exit":               "code:u32",
		"proc_raise":              "sig:signal",
		"sched_yield":             "",
		"random_get":              "buf:buf",
		"sock_accept":             "fd:fd,flags:fdflags,>fd:newfd",
		// wasix_32v1 re-exports sock_accept in the four-argument v2 form.
		"sock_accept/4": "fd:fd,flags:fdflags,>fd:newfd,>peer:addr",
		"sock_recv":     "fd:fd,iovs:iovs,flags:riflags,>nread:nread,>roflags:ou16",
		"sock_send":     "fd:fd,iovs:ciovs,flags:u32,>nwritten:nwritten",
		"sock_shutdown": "fd:fd,how:sdflags",

		// wasix_32v1 (current ABI)
		"fd_dup":                  "fd:fd,>fd:newfd",
		"fd_dup2":                 "fd:fd,min:u32,cloexec:u32,>fd:newfd",
		"fd_fdflags_get":          "fd:fd,>flags:ou32",
		"fd_fdflags_set":          "fd:fd,flags:cloexec",
		"path_open2":              "fd:fd,lookup:lookup,path:path,oflags:oflags,rights:rights,inheriting:rights,fdflags:fdflags,ext:cloexec,>fd:newfd",
		"fd_pipe":                 ">r:newfd,>w:newfd",
		"fd_event":                "initial:u64,flags:u32,>fd:newfd",
		"epoll_create":            ">fd:newfd",
		"epoll_ctl":               "epfd:fd,op:epollop,fd:fd,event:epev",
		"epoll_wait":              "epfd:fd,>events:epout,max:u32,timeout:ns,>n:ou32",
		"proc_id":                 ">pid:ou32",
		"proc_parent":             "pid:u32,>ppid:ou32",
		"proc_signal":             "pid:u32,sig:signal",
		"proc_raise_interval":     "sig:signal,interval:u64,repeat:u32",
		"proc_raise_interval2":    "sig:signal,new:ptr,old:ptr",
		"proc_exit2":              "code:u32",
		"thread_signal":           "tid:u32,sig:signal",
		"thread_spawn_v2":         "start:ptr,>tid:tid",
		"thread_spawn":            "start:ptr,>tid:tid",
		"thread_join":             "tid:u32",
		"thread_sleep":            "duration:ns",
		"thread_id":               ">tid:ou32",
		"thread_parallelism":      ">n:ou32",
		"thread_exit":             "code:u32",
		"futex_wait":              "futex:ptr,expected:u32,timeout:optts,>woken:ou8",
		"futex_wake":              "futex:ptr,>woken:ou8",
		"futex_wake_all":          "futex:ptr,>woken:ou8",
		"clock_time_set":          "id:clock,time:u64",
		"sock_open":               "af:af,type:socktype,proto:u32,>fd:newfd",
		"sock_pair":               "af:af,type:socktype,proto:u32,>fd1:newfd,>fd2:newfd",
		"sock_bind":               "fd:fd,addr:addr",
		"sock_connect":            "fd:fd,addr:addr",
		"sock_listen":             "fd:fd,backlog:u32",
		"sock_accept_v2":          "fd:fd,flags:fdflags,>fd:newfd,>peer:addr",
		"sock_recv_from":          "fd:fd,iovs:iovs,flags:riflags,>nread:nread,>roflags:ou16,>peer:addr",
		"sock_send_to":            "fd:fd,iovs:ciovs,flags:u32,addr:addr,>nwritten:nwritten",
		"sock_send_file":          "fd:fd,in:fd,offset:u64,count:u64,>nwritten:nwritten",
		"sock_status":             "fd:fd,>status:ou8",
		"sock_addr_local":         "fd:fd,>addr:addr",
		"sock_addr_peer":          "fd:fd,>addr:addr",
		"sock_set_opt_flag":       "fd:fd,opt:u32,flag:u32",
		"sock_get_opt_flag":       "fd:fd,opt:u32,>flag:ou8",
		"sock_set_opt_time":       "fd:fd,opt:u32,time:optts",
		"sock_set_opt_size":       "fd:fd,opt:u32,size:u64",
		"sock_get_opt_size":       "fd:fd,opt:u32,>size:ou64",
		"sock_join_multicast_v4":  "fd:fd,group:ptr,iface:ptr",
		"sock_leave_multicast_v4": "fd:fd,group:ptr,iface:ptr",
		"resolve":                 "host:path,port:u32,addrs:ptr,max:u32,>n:ou32",
		"chdir":                   "path:path",
		"getcwd":                  ">cwd:cwd",
		"tty_get":                 "tty:ptr",
		"tty_set":                 "tty:ptr",
		"callback_signal":         "export:path",
		"proc_signals_sizes_get":  ">n:ou32",
		"proc_signals_get":        "buf:ptr",
		"proc_snapshot":           "",
		"proc_fork":               "copy_memory:u32,>pid:ou32",
		"proc_fork_env":           ">pid:ou32",
		"proc_exec":               "name:path,args:path",
		"proc_exec2":              "name:path,args:path,envs:path",
		"proc_exec3":              "name:path,args:path,envs:path,search_path:u32,path:path",
		"proc_spawn2":             "name:path,args:path,envs:path,fd_ops:ptr,n_fd_ops:u32,signals:ptr,n_signals:u32,search_path:u32,path:path,>pid:ou32",
		"proc_join":               "pid:optpid,flags:u32,status:ptr",
	}
})

// hooks keep the tracer's fd -> path map in step with the calls that open,
// move and copy fds.
// callHooks are what hooks holds for a function.
type callHooks struct {
	before func(*call)
	after  func(*call)
}

var hooks = sync.OnceValue(func() map[string]callHooks {
	return map[string]callHooks{
		"path_open":   {after: afterOpen(8)},
		"path_open2":  {after: afterOpen(9)},
		"fd_renumber": {before: savePath(0), after: func(c *call) { c.keepPath(uint32(c.args[1])) }},
		"fd_dup":      {before: savePath(0), after: func(c *call) { c.keepPathAt(uint32(c.args[1])) }},
		"fd_dup2":     {before: savePath(0), after: func(c *call) { c.keepPathAt(uint32(c.args[3])) }},
	}
})

// afterOpen remembers the path of the fd that path_open wrote through
// argument out.
func afterOpen(out int) func(*call) {
	return func(c *call) {
		fd, ok := c.u32At(uint32(c.args[out]))
		if !ok {
			return
		}
		dir, _ := c.t.pathOf(uint32(c.args[0]))
		b, ok := c.read(uint32(c.args[2]), uint32(c.args[3]))
		if !ok {
			return
		}
		c.t.remember(fd, joinGuest(dir, string(b)))
	}
}

func savePath(arg int) func(*call) {
	return func(c *call) { c.saved, _ = c.t.pathOf(uint32(c.args[arg])) }
}

func (c *call) keepPath(fd uint32) {
	if c.saved != "" {
		c.t.remember(fd, path.Clean(c.saved))
	}
}

func (c *call) keepPathAt(ptr uint32) {
	if fd, ok := c.u32At(ptr); ok {
		c.keepPath(fd)
	}
}
