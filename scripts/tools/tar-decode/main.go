// tar-decode reads tar archives (optionally gzip-compressed) with Go's archive/tar, as oras and
// containerd do: the Go side of the container differential test
// (test/integration/evidence/containers-differential.test.ts).
//
// Usage: tar-decode IN OUT. IN holds records `kind (1 byte) | length (4 bytes, big-endian) | bytes`;
// OUT gets one JSON line per record: {"ok": bool, "error": string, "members": [[nameHex, typeflag,
// headHex or null], ...]} listing every header Next returns, with the first 64 bytes of the
// regular files (what an extractor writes out).
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
)

const head = 64

type result struct {
	OK      bool    `json:"ok"`
	Error   string  `json:"error,omitempty"`
	Members [][]any `json:"members"`
}

func list(data []byte) (res result) {
	res.Members = [][]any{}
	var r io.Reader = bytes.NewReader(data)
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		gz, err := gzip.NewReader(r)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		r = gz
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			res.OK = true
			return res
		}
		if err != nil {
			res.Error = err.Error()
			return res
		}
		var h any
		if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeCont {
			buf := make([]byte, head)
			n, err := io.ReadFull(tr, buf)
			if err == nil || err == io.ErrUnexpectedEOF || err == io.EOF {
				h = hex.EncodeToString(buf[:n])
			}
		}
		res.Members = append(res.Members, []any{hex.EncodeToString([]byte(hdr.Name)), string([]byte{hdr.Typeflag}), h})
	}
}

func main() {
	in, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	f, err := os.Create(os.Args[2])
	if err != nil {
		panic(err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for pos := 0; pos+5 <= len(in); {
		n := int(binary.BigEndian.Uint32(in[pos+1 : pos+5]))
		data := in[pos+5 : pos+5+n]
		pos += 5 + n
		if err := enc.Encode(list(data)); err != nil {
			panic(err)
		}
	}
	if err := w.Flush(); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}
