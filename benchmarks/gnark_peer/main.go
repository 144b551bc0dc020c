// gnark_peer times gnark-crypto's BN254 primitives for `bzk bench primitives`: the same
// operations, sizes and thread count as the native prover's bench (native/prover/src/
// bench.rs), so the two libraries are compared in one run on one machine.
//
//	gnark_peer -g1 N -g2 N -fft-log K -threads T -seed S
//
// prints one JSON line of wall and process CPU seconds per operation. Points are
// distinct multiples of the generator, P_i = (a + i b) G for random a and b (made on
// every core, not timed); MSM scalars are random and full width. Each result is
// checked ((sum s_i t_i) G for the MSMs; the FFT pair against its polynomial at two
// points): a wrong result exits with status 1 instead of printing figures.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/fft"
)

const chunk = 1 << 12

type timing struct{ wall, cpu float64 }

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// timed runs f on `threads` OS threads, after a collection so that the setup's
// garbage is not collected inside the figure.
func timed(threads int, f func()) timing {
	runtime.GC()
	prev := runtime.GOMAXPROCS(threads)
	defer runtime.GOMAXPROCS(prev)
	t0, c0 := time.Now(), cpuSeconds()
	f()
	return timing{time.Since(t0).Seconds(), cpuSeconds() - c0}
}

func randomScalars(n int, rng *rand.Rand) []fr.Element {
	out := make([]fr.Element, n)
	var b [32]byte
	for i := range out {
		for j := 0; j < 32; j += 8 {
			v := rng.Uint64()
			for k := 0; k < 8; k++ {
				b[j+k] = byte(v >> (8 * k))
			}
		}
		out[i].SetBytes(b[:]) // reduced mod r: full width
	}
	return out
}

// progression returns the scalars a + i b, i < n, for random a and b.
func progression(n int, rng *rand.Rand) []fr.Element {
	ab := randomScalars(2, rng)
	out := make([]fr.Element, n)
	var step fr.Element
	for i := range out {
		out[i].Add(&ab[0], &step)
		step.Add(&step, &ab[1])
	}
	return out
}

func bigOf(x *fr.Element) *big.Int { return x.BigInt(new(big.Int)) }

// chunks calls f(start, end) for each chunk of [0, n), on every core.
func chunks(n int, f func(start, end int)) {
	var wg sync.WaitGroup
	for start := 0; start < n; start += chunk {
		wg.Add(1)
		go func(start int) {
			defer wg.Done()
			f(start, min(n, start+chunk))
		}(start)
	}
	wg.Wait()
}

func g1Points(s []fr.Element) []bn254.G1Affine {
	var step bn254.G1Jac
	var stepAff bn254.G1Affine
	var b fr.Element
	if len(s) > 1 {
		b.Sub(&s[1], &s[0])
	}
	stepAff.FromJacobian(step.ScalarMultiplicationBase(bigOf(&b)))
	out := make([]bn254.G1Affine, len(s))
	chunks(len(s), func(start, end int) {
		var p bn254.G1Jac
		p.ScalarMultiplicationBase(bigOf(&s[start]))
		for i := start; i < end; i++ {
			out[i].FromJacobian(&p)
			p.AddMixed(&stepAff)
		}
	})
	return out
}

func g2Points(s []fr.Element) []bn254.G2Affine {
	var step bn254.G2Jac
	var stepAff bn254.G2Affine
	var b fr.Element
	if len(s) > 1 {
		b.Sub(&s[1], &s[0])
	}
	stepAff.FromJacobian(step.ScalarMultiplicationBase(bigOf(&b)))
	out := make([]bn254.G2Affine, len(s))
	chunks(len(s), func(start, end int) {
		var p bn254.G2Jac
		p.ScalarMultiplicationBase(bigOf(&s[start]))
		for i := start; i < end; i++ {
			out[i].FromJacobian(&p)
			p.AddMixed(&stepAff)
		}
	})
	return out
}

func dot(s, t []fr.Element) *big.Int {
	var acc, x fr.Element
	for i := range s {
		x.Mul(&s[i], &t[i])
		acc.Add(&acc, &x)
	}
	return bigOf(&acc)
}

func horner(c []fr.Element, x fr.Element) fr.Element {
	var acc fr.Element
	for i := len(c) - 1; i >= 0; i-- {
		acc.Mul(&acc, &x).Add(&acc, &c[i])
	}
	return acc
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gnark_peer: "+format+"\n", args...)
	os.Exit(1)
}

func gnarkVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/consensys/gnark-crypto" {
				return d.Version
			}
		}
	}
	return "unknown"
}

func main() {
	g1n := flag.Int("g1", 1<<20, "G1 MSM points")
	g2n := flag.Int("g2", 1<<19, "G2 MSM points")
	fftLog := flag.Int("fft-log", 21, "FFT size log2")
	threads := flag.Int("threads", 1, "threads (GOMAXPROCS and NbTasks)")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if *g1n < 2 || *g2n < 2 || *threads < 1 || *fftLog < 1 || *fftLog > 27 {
		fail("need g1, g2 >= 2, threads >= 1, 1 <= fft-log <= 27")
	}
	rng := rand.New(rand.NewChaCha8([32]byte{byte(*seed), byte(*seed >> 8), byte(*seed >> 16), byte(*seed >> 24)}))
	t0 := time.Now()
	s1, s2 := progression(*g1n, rng), progression(*g2n, rng)
	p1, p2 := g1Points(s1), g2Points(s2)
	t1, t2 := randomScalars(*g1n, rng), randomScalars(*g2n, rng)
	n := 1 << *fftLog
	evals := randomScalars(n, rng)
	shift, err := fft.Generator(uint64(2 * n))
	if err != nil {
		fail("%v", err)
	}
	// the odd coset of the doubled domain, as the native prover's witness map (snarkjs)
	domain := fft.NewDomain(uint64(n), fft.WithShift(shift))
	setup := time.Since(t0).Seconds()
	cfg := ecc.MultiExpConfig{NbTasks: *threads}
	g1Gen, g2Gen, _, _ := bn254.Generators()

	var r1 bn254.G1Jac
	g1 := timed(*threads, func() {
		if _, err := r1.MultiExp(p1, t1, cfg); err != nil {
			fail("G1 MultiExp: %v", err)
		}
	})
	var want1 bn254.G1Jac
	if !r1.Equal(want1.ScalarMultiplication(&g1Gen, dot(s1, t1))) {
		fail("the G1 MSM is wrong")
	}
	var r2 bn254.G2Jac
	g2 := timed(*threads, func() {
		if _, err := r2.MultiExp(p2, t2, cfg); err != nil {
			fail("G2 MultiExp: %v", err)
		}
	})
	var want2 bn254.G2Jac
	if !r2.Equal(want2.ScalarMultiplication(&g2Gen, dot(s2, t2))) {
		fail("the G2 MSM is wrong")
	}

	// gnark's Groth16 prover's pair: inverse FFT to bit-reversed coefficients, then the
	// coset FFT from them back to natural order (no bit-reversal pass in between)
	v := append([]fr.Element(nil), evals...)
	ifft := timed(*threads, func() { domain.FFTInverse(v, fft.DIF, fft.WithNbTasks(*threads)) })
	coefficients := append([]fr.Element(nil), v...)
	fft.BitReverse(coefficients)
	cosetFFT := timed(*threads, func() { domain.FFT(v, fft.DIT, fft.OnCoset(), fft.WithNbTasks(*threads)) })
	var one, x1 fr.Element
	one.SetOne()
	x1.Mul(&shift, &domain.Generator)
	for _, c := range []struct{ at, want fr.Element }{
		{one, evals[0]}, {domain.Generator, evals[1]}, {shift, v[0]}, {x1, v[1]},
	} {
		if got := horner(coefficients, c.at); !got.Equal(&c.want) {
			fail("the FFT pair is wrong")
		}
	}

	out := map[string]any{
		"gnark_crypto": gnarkVersion(), "go": runtime.Version(),
		"g1_points": *g1n, "g2_points": *g2n, "fft_size": n, "threads": *threads,
		"seed": *seed, "setup_s": setup,
		"g1_msm_s": g1.wall, "g1_msm_cpu_s": g1.cpu,
		"g2_msm_s": g2.wall, "g2_msm_cpu_s": g2.cpu,
		"ifft_s": ifft.wall, "ifft_cpu_s": ifft.cpu,
		"coset_fft_s": cosetFFT.wall, "coset_fft_cpu_s": cosetFFT.cpu,
	}
	line, err := json.Marshal(out)
	if err != nil {
		fail("%v", err)
	}
	fmt.Println(string(line))
}
