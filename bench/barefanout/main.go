// Command barefanout is the socket benchmark's floor: a plain Go server
// that writes one websocket text frame to every TCP connection it holds,
// as Strait's transport does for a shared subscription, and nothing else:
// no handshake, no GraphQL, no event path. BenchmarkSocketSubscribers runs
// it after Strait, with the same clients, so that the figures beside each
// other show what Strait adds to what the machine costs.
//
//	barefanout -listen 127.0.0.1:19803 -control 127.0.0.1:19804
//
// GET /count on the control address is how many connections it holds;
// POST /fanout?r=N writes event N to all of them (split over as many
// goroutines as there are cores) and answers when every write returned.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:19803", "the subscribers' address")
	control := flag.String("control", "127.0.0.1:19804", "the benchmark's address")
	flag.Parse()

	var mu sync.Mutex
	var conns []net.Conn
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				log.Fatal(err)
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	http.HandleFunc("GET /count", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprint(w, len(conns))
	})
	http.HandleFunc("POST /fanout", func(w http.ResponseWriter, r *http.Request) {
		round, err := strconv.Atoi(r.URL.Query().Get("r"))
		if err != nil {
			http.Error(w, "r: a round number", http.StatusBadRequest)
			return
		}
		msg := fmt.Sprintf(`{"id":"h","type":"next","payload":{"data":{"connectorHealth":{"connector":"bench-%d"}}}}`, round)
		frame := append([]byte{0x81, byte(len(msg))}, msg...) // FIN, text; under 126 bytes
		mu.Lock()
		all := conns
		mu.Unlock()
		parts := runtime.GOMAXPROCS(0)
		size := (len(all) + parts - 1) / parts
		var wg sync.WaitGroup
		for i := 0; i < len(all); i += size {
			part := all[i:min(i+size, len(all))]
			wg.Go(func() {
				for _, c := range part {
					_, _ = c.Write(frame)
				}
			})
		}
		wg.Wait()
	})
	log.Fatal(http.ListenAndServe(*control, nil))
}
