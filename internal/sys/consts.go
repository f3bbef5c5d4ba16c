package sys

// Rights are preview1 capability bits (WASIX adds bits 30..38).
type Rights uint64

// Rights bits.
const (
	RightFdDatasync Rights = 1 << iota
	RightFdRead
	RightFdSeek
	RightFdFdstatSetFlags
	RightFdSync
	RightFdTell
	RightFdWrite
	RightFdAdvise
	RightFdAllocate
	RightPathCreateDirectory
	RightPathCreateFile
	RightPathLinkSource
	RightPathLinkTarget
	RightPathOpen
	RightFdReaddir
	RightPathReadlink
	RightPathRenameSource
	RightPathRenameTarget
	RightPathFilestatGet
	RightPathFilestatSetSize
	RightPathFilestatSetTimes
	RightFdFilestatGet
	RightFdFilestatSetSize
	RightFdFilestatSetTimes
	RightPathSymlink
	RightPathRemoveDirectory
	RightPathUnlinkFile
	RightPollFdReadwrite
	RightSockShutdown
	RightSockAccept
)

// Rights sets granted to kinds of fds.
const (
	// RightsAll is every preview1 right.
	RightsAll Rights = 1<<30 - 1

	// RightsRegularFile are the rights meaningful on a regular file.
	RightsRegularFile = RightFdDatasync | RightFdRead | RightFdSeek | RightFdFdstatSetFlags |
		RightFdSync | RightFdTell | RightFdWrite | RightFdAdvise | RightFdAllocate |
		RightFdFilestatGet | RightFdFilestatSetSize | RightFdFilestatSetTimes | RightPollFdReadwrite

	// RightsDirectory are the rights meaningful on a directory itself.
	// PATH_FILESTAT_SET_SIZE is left out: path_open does not require it for
	// TRUNC (see OpenPath in abi/wasi_p1), so a directory must not claim it,
	// or a guest that drops it would expect TRUNC to fail (wasi-testsuite's
	// truncation_rights does). wasmtime leaves it out too.
	RightsDirectory = RightFdFdstatSetFlags | RightFdSync | RightFdAdvise | RightPathCreateDirectory |
		RightPathCreateFile | RightPathLinkSource | RightPathLinkTarget | RightPathOpen |
		RightFdReaddir | RightPathReadlink | RightPathRenameSource | RightPathRenameTarget |
		RightPathFilestatGet | RightPathFilestatSetTimes |
		RightFdFilestatGet | RightFdFilestatSetTimes | RightPathSymlink | RightPathRemoveDirectory |
		RightPathUnlinkFile | RightFdDatasync

	// RightsDirectoryInheriting are the rights a directory passes to what is opened through it.
	RightsDirectoryInheriting = RightsDirectory | RightsRegularFile

	// RightsStream are the rights of pipes, character devices and stdio.
	RightsStream = RightFdRead | RightFdWrite | RightFdFdstatSetFlags | RightFdFilestatGet |
		RightPollFdReadwrite

	// RightsSocket are the rights of a connected or listening socket.
	RightsSocket = RightFdRead | RightFdWrite | RightFdFdstatSetFlags | RightFdFilestatGet |
		RightPollFdReadwrite | RightSockShutdown | RightSockAccept
)

// Filetype is the preview1 filetype enum.
type Filetype uint8

// Filetype values.
const (
	FiletypeUnknown Filetype = iota
	FiletypeBlockDevice
	FiletypeCharacterDevice
	FiletypeDirectory
	FiletypeRegularFile
	FiletypeSocketDgram
	FiletypeSocketStream
	FiletypeSymbolicLink
)

// Fdflags is the preview1 fdflags set.
type Fdflags uint16

// Fdflags bits.
const (
	FdflagAppend   Fdflags = 1
	FdflagDsync    Fdflags = 2
	FdflagNonblock Fdflags = 4
	FdflagRsync    Fdflags = 8
	FdflagSync     Fdflags = 16
)

// Oflags is the preview1 oflags set of path_open.
type Oflags uint16

// Oflags bits.
const (
	OflagCreat     Oflags = 1
	OflagDirectory Oflags = 2
	OflagExcl      Oflags = 4
	OflagTrunc     Oflags = 8
)

// Fstflags selects which timestamps filestat_set_times changes.
type Fstflags uint16

// Fstflags bits.
const (
	FstflagAtim    Fstflags = 1
	FstflagAtimNow Fstflags = 2
	FstflagMtim    Fstflags = 4
	FstflagMtimNow Fstflags = 8
)

// Filestat is the preview1 filestat record.
type Filestat struct {
	Dev, Ino         uint64
	Filetype         Filetype
	Nlink, Size      uint64
	Atim, Mtim, Ctim uint64
}

// Fdstat is the preview1 fdstat record.
type Fdstat struct {
	Filetype         Filetype
	Flags            Fdflags
	RightsBase       Rights
	RightsInheriting Rights
}
