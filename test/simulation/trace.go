package simulation

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Point is the load of one simulated second.
type Point struct {
	// Mean is the underlying load, without noise: what capacity should
	// follow.
	Mean float64
	// Observed is what the replicas report: Mean with noise.
	Observed float64
}

// Trace is a load series with one Point per second.
type Trace struct {
	Name   string
	Points []Point
	// StepAt and StepTo describe the load step to measure reaction time
	// against; StepAt < 0 means the trace has no step.
	StepAt time.Duration
	StepTo float64
}

// Duration is the simulated length of the trace.
func (t *Trace) Duration() time.Duration { return time.Duration(len(t.Points)) * time.Second }

// noise produces multiplicative noise in [-amplitude, +amplitude]: half of
// it changes every second, half drifts slowly (an AR(1) process with a
// 20 s memory), because real traffic has bursts that last longer than one
// sample and a policy must not be judged on white noise only.
type noise struct {
	rng       *rand.Rand
	amplitude float64
	slow      float64
}

func newNoise(seed uint64, amplitude float64) *noise {
	return &noise{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), amplitude: amplitude}
}

const slowMemory = 20.0 // seconds

func (n *noise) next() float64 {
	if n.amplitude == 0 {
		return 0
	}
	half := n.amplitude / 2
	keep := math.Exp(-1 / slowMemory)
	// Stationary standard deviation of the slow part is half/2.
	n.slow = keep*n.slow + math.Sqrt(1-keep*keep)*(half/2)*n.rng.NormFloat64()
	fast := (n.rng.Float64()*2 - 1) * half
	return max(-n.amplitude, min(n.amplitude, n.slow+fast))
}

// build samples mean(second) for the given length and adds noise.
func build(name string, length time.Duration, seed uint64, amplitude float64, mean func(sec float64) float64) Trace {
	n := newNoise(seed, amplitude)
	points := make([]Point, int(length/time.Second))
	for i := range points {
		m := mean(float64(i))
		points[i] = Point{Mean: m, Observed: max(0, m*(1+n.next()))}
	}
	return Trace{Name: name, Points: points, StepAt: -1}
}

// Step holds base load, then jumps to base*factor at the given time.
func Step(base, factor float64, at, length time.Duration, amplitude float64, seed uint64) Trace {
	t := build(fmt.Sprintf("step x%g", factor), length, seed, amplitude, func(sec float64) float64 {
		if sec >= at.Seconds() {
			return base * factor
		}
		return base
	})
	t.StepAt, t.StepTo = at, base*factor
	return t
}

// Ramp holds low, climbs linearly to high over rise, holds, and falls back
// over the same time.
func Ramp(low, high float64, hold, rise time.Duration, amplitude float64, seed uint64) Trace {
	h, r := hold.Seconds(), rise.Seconds()
	return build("ramp", 2*hold+2*rise+hold, seed, amplitude, func(sec float64) float64 {
		switch {
		case sec < h:
			return low
		case sec < h+r:
			return low + (high-low)*(sec-h)/r
		case sec < 2*h+r:
			return high
		case sec < 2*h+2*r:
			return high - (high-low)*(sec-2*h-r)/r
		default:
			return low
		}
	})
}

// Spike holds base, multiplies it by factor for width seconds at `at`, and
// returns to base.
func Spike(base, factor float64, at, width, length time.Duration, amplitude float64, seed uint64) Trace {
	return build(fmt.Sprintf("spike x%g for %v", factor, width), length, seed, amplitude, func(sec float64) float64 {
		if sec >= at.Seconds() && sec < (at+width).Seconds() {
			return base * factor
		}
		return base
	})
}

// Diurnal is a compressed day: a sine between low and high with the given
// period, starting at the trough.
func Diurnal(low, high float64, period, length time.Duration, amplitude float64, seed uint64) Trace {
	return build("diurnal", length, seed, amplitude, func(sec float64) float64 {
		phase := 2 * math.Pi * sec / period.Seconds()
		return low + (high-low)*(1-math.Cos(phase))/2
	})
}

// NoisySteady is a constant mean with noise.
func NoisySteady(mean float64, length time.Duration, amplitude float64, seed uint64) Trace {
	return build(fmt.Sprintf("noisy steady ±%.0f%%", amplitude*100), length, seed, amplitude, func(float64) float64 { return mean })
}
