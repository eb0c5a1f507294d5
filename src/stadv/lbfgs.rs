//! L-BFGS per image, in f64 on the host, with batched objective/gradient
//! evaluations on the GPU (SPEC §4: the reference uses SciPy's L-BFGS-B in
//! float64 with no bounds; here one state per image instead of one summed
//! objective).
//!
//! Every image runs its own iteration and backtracking line search; a round
//! evaluates every image's current trial point in one batch. Converged
//! images keep re-submitting their point (cheap, and harmless to the
//! best-iterate tracking).

use std::collections::VecDeque;

/// SciPy's stopping rules: factr = 10 (relative decrease below factr·ε_mach)
/// and pgtol = 1e-5 (max |g_i|).
const FACTR_EPS: f64 = 10.0 * f64::EPSILON;
const PGTOL: f64 = 1e-5;
const C1: f64 = 1e-4;
const MAX_BACKTRACKS: u32 = 20;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// The first evaluation at x has not come back yet.
    Init,
    /// Waiting for the value at x + alpha·d.
    Search,
    Done,
}

pub(super) struct State {
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
    s: VecDeque<Vec<f64>>,
    y: VecDeque<Vec<f64>>,
    rho: VecDeque<f64>,
    d: Vec<f64>,
    gd: f64,
    alpha: f64,
    tries: u32,
    phase: Phase,
    pub iterations: u32,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl State {
    pub fn new(x0: Vec<f64>) -> State {
        let n = x0.len();
        State {
            x: x0,
            f: f64::INFINITY,
            g: vec![0.0; n],
            s: VecDeque::new(),
            y: VecDeque::new(),
            rho: VecDeque::new(),
            d: vec![0.0; n],
            gd: 0.0,
            alpha: 0.0,
            tries: 0,
            phase: Phase::Init,
            iterations: 0,
        }
    }

    pub fn done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The point to evaluate next (f32, for the GPU).
    pub fn trial(&self, out: &mut [f32]) {
        match self.phase {
            Phase::Search => {
                for ((o, x), d) in out.iter_mut().zip(&self.x).zip(&self.d) {
                    *o = (x + self.alpha * d) as f32;
                }
            }
            _ => {
                for (o, x) in out.iter_mut().zip(&self.x) {
                    *o = *x as f32;
                }
            }
        }
    }

    /// Take the objective and gradient at the last trial point. Returns
    /// whether that point became the iterate (the initial point, or a step
    /// the line search accepted).
    pub fn update(&mut self, f: f64, g: &[f32], memory: usize) -> bool {
        match self.phase {
            Phase::Done => false,
            Phase::Init => {
                self.phase = Phase::Done;
                if f.is_finite() {
                    self.f = f;
                    self.g.iter_mut().zip(g).for_each(|(a, &b)| *a = b as f64);
                    self.start_iteration();
                }
                true
            }
            Phase::Search => {
                let armijo = f.is_finite() && f <= self.f + C1 * self.alpha * self.gd;
                if armijo {
                    let n = self.x.len();
                    let mut s = vec![0.0; n];
                    let mut y = vec![0.0; n];
                    for i in 0..n {
                        s[i] = self.alpha * self.d[i];
                        self.x[i] += s[i];
                        let gi = g[i] as f64;
                        y[i] = gi - self.g[i];
                        self.g[i] = gi;
                    }
                    let (sy, yy) = (dot(&s, &y), dot(&y, &y));
                    if sy > f64::EPSILON * yy {
                        self.s.push_back(s);
                        self.y.push_back(y);
                        self.rho.push_back(1.0 / sy);
                        if self.s.len() > memory {
                            self.s.pop_front();
                            self.y.pop_front();
                            self.rho.pop_front();
                        }
                    }
                    let f_old = self.f;
                    self.f = f;
                    self.iterations += 1;
                    if (f_old - f) / f_old.abs().max(f.abs()).max(1.0) <= FACTR_EPS {
                        self.phase = Phase::Done;
                    } else {
                        self.start_iteration();
                    }
                    true
                } else {
                    self.tries += 1;
                    if self.tries > MAX_BACKTRACKS {
                        if self.s.is_empty() {
                            self.phase = Phase::Done;
                        } else {
                            // the quasi-Newton model misled: restart from steepest descent
                            self.s.clear();
                            self.y.clear();
                            self.rho.clear();
                            self.start_iteration();
                        }
                        return false;
                    }
                    // safeguarded quadratic interpolation
                    let a = self.alpha;
                    let q = if f.is_finite() { -self.gd * a * a / (2.0 * (f - self.f - self.gd * a)) } else { 0.0 };
                    self.alpha = if q.is_finite() { q.clamp(0.1 * a, 0.5 * a) } else { 0.5 * a };
                    false
                }
            }
        }
    }

    /// Projected-gradient test, then the two-loop direction and first step.
    fn start_iteration(&mut self) {
        let gmax = self.g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if gmax <= PGTOL {
            self.phase = Phase::Done;
            return;
        }
        self.direction();
        if self.gd >= 0.0 {
            self.s.clear();
            self.y.clear();
            self.rho.clear();
            self.direction();
        }
        self.alpha = if self.s.is_empty() { 1.0 / dot(&self.g, &self.g).sqrt() } else { 1.0 };
        self.tries = 0;
        self.phase = Phase::Search;
    }

    /// d = −H g by the two-loop recursion, H0 = (s·y / y·y) I.
    fn direction(&mut self) {
        let mut q = self.g.clone();
        let k = self.s.len();
        let mut a = vec![0.0; k];
        for i in (0..k).rev() {
            a[i] = self.rho[i] * dot(&self.s[i], &q);
            q.iter_mut().zip(&self.y[i]).for_each(|(qv, yv)| *qv -= a[i] * yv);
        }
        if k > 0 {
            let gamma = 1.0 / (self.rho[k - 1] * dot(&self.y[k - 1], &self.y[k - 1]));
            q.iter_mut().for_each(|v| *v *= gamma);
        }
        for (i, ai) in a.iter().enumerate() {
            let b = self.rho[i] * dot(&self.y[i], &q);
            q.iter_mut().zip(&self.s[i]).for_each(|(qv, sv)| *qv += (ai - b) * sv);
        }
        q.iter_mut().for_each(|v| *v = -*v);
        self.gd = dot(&self.g, &q);
        self.d = q;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drive the state machine on a host function, one image.
    fn minimise(f: impl Fn(&[f64]) -> (f64, Vec<f64>), x0: Vec<f64>, evals: usize) -> (Vec<f64>, f64) {
        let mut st = State::new(x0);
        let mut t = vec![0f32; st.x.len()];
        for _ in 0..evals {
            if st.done() {
                break;
            }
            st.trial(&mut t);
            let xt: Vec<f64> = t.iter().map(|&v| v as f64).collect();
            let (fv, g) = f(&xt);
            let g32: Vec<f32> = g.iter().map(|&v| v as f32).collect();
            let _ = st.update(fv, &g32, 10);
        }
        (st.x.clone(), st.f)
    }

    #[test]
    fn minimises_an_ill_conditioned_quadratic() {
        let scales = [1.0, 10.0, 100.0, 0.5, 3.0];
        let f = |x: &[f64]| {
            let v: f64 = x.iter().zip(scales).map(|(a, s)| s * (a - 1.0) * (a - 1.0)).sum();
            let g = x.iter().zip(scales).map(|(a, s)| 2.0 * s * (a - 1.0)).collect();
            (v, g)
        };
        let (x, fx) = minimise(f, vec![0.0; 5], 200);
        assert!(fx < 1e-8, "f = {fx}");
        assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-4), "{x:?}");
    }

    #[test]
    fn minimises_rosenbrock() {
        let f = |x: &[f64]| {
            let (a, b) = (x[0], x[1]);
            let v = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            (v, vec![-2.0 * (1.0 - a) - 400.0 * a * (b - a * a), 200.0 * (b - a * a)])
        };
        let (x, fx) = minimise(f, vec![-1.2, 1.0], 500);
        assert!(fx < 1e-6 && (x[0] - 1.0).abs() < 1e-2, "x {x:?} f {fx}");
    }
}
