//! Minimising the negative log-likelihoods and error sums of the models, through argmin:
//! L-BFGS where an analytic gradient exists, Nelder-Mead where it does not (and as the
//! fallback when a line search gives up on a flat or awkward surface).

use std::cell::RefCell;

use argmin::core::{CostFunction, Error, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::neldermead::NelderMead;
use argmin::solver::quasinewton::LBFGS;

/// Where a minimisation ended.
#[derive(Clone, Debug)]
pub(crate) struct Minimum {
    pub point: Vec<f64>,
    pub value: f64,
    pub iterations: u64,
}

/// A point with its value and gradient.
type Evaluated = (Vec<f64>, f64, Vec<f64>);

/// A smooth objective whose value and gradient come from one pass over the data; argmin asks
/// for them separately at the same point, so the last pass is kept.
struct Smooth<F> {
    f: F,
    last: RefCell<Option<Evaluated>>,
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Smooth<F> {
    fn at(&self, x: &[f64]) -> (f64, Vec<f64>) {
        if let Some((point, value, gradient)) = self.last.borrow().as_ref() {
            if point.as_slice() == x {
                return (*value, gradient.clone());
            }
        }
        let (value, gradient) = (self.f)(x);
        *self.last.borrow_mut() = Some((x.to_vec(), value, gradient.clone()));
        (value, gradient)
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> CostFunction for Smooth<F> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Vec<f64>) -> Result<f64, Error> {
        Ok(self.at(x).0)
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Gradient for Smooth<F> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, x: &Vec<f64>) -> Result<Vec<f64>, Error> {
        Ok(self.at(x).1)
    }
}

struct Plain<F>(F);

impl<F: Fn(&[f64]) -> f64> CostFunction for Plain<F> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Vec<f64>) -> Result<f64, Error> {
        Ok((self.0)(x))
    }
}

/// Minimises `f` (value and gradient) from `start` with L-BFGS; falls back to Nelder-Mead
/// from the best point reached when the line search fails.
pub(crate) fn minimise_smooth<F>(f: F, start: Vec<f64>) -> Minimum
where
    F: Fn(&[f64]) -> (f64, Vec<f64>),
{
    let problem = Smooth {
        f: &f,
        last: RefCell::new(None),
    };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7)
        .with_tolerance_grad(1e-9)
        .and_then(|solver| solver.with_tolerance_cost(0.0));
    let outcome = solver.and_then(|solver| {
        Executor::new(problem, solver)
            .configure(|state| state.param(start.clone()).max_iters(500))
            .run()
    });
    match outcome {
        Ok(result) => {
            let state = result.state();
            let point = state.get_best_param().cloned().unwrap_or(start);
            let (value, gradient) = f(&point);
            if value.is_finite() && gradient_is_small(&gradient) {
                return Minimum {
                    point,
                    value,
                    iterations: state.get_iter(),
                };
            }
            let polished = minimise_plain(|x| f(x).0, point, 0.05);
            Minimum {
                iterations: polished.iterations + state.get_iter(),
                ..polished
            }
        }
        Err(_) => minimise_plain(|x| f(x).0, start, 0.5),
    }
}

fn gradient_is_small(gradient: &[f64]) -> bool {
    gradient.iter().all(|g| g.is_finite() && g.abs() < 1e-4)
}

/// Minimises `f` from `start` with Nelder-Mead; `step` is the initial simplex's size.
pub(crate) fn minimise_plain<F>(f: F, start: Vec<f64>, step: f64) -> Minimum
where
    F: Fn(&[f64]) -> f64,
{
    let mut simplex = vec![start.clone()];
    for i in 0..start.len() {
        let mut vertex = start.clone();
        vertex[i] += step;
        simplex.push(vertex);
    }
    let problem = Plain(&f);
    let outcome = NelderMead::new(simplex)
        .with_sd_tolerance(1e-12)
        .and_then(|solver| {
            Executor::new(problem, solver)
                .configure(|state| state.max_iters(5_000))
                .run()
        });
    match outcome {
        Ok(result) => {
            let state = result.state();
            let point = state.get_best_param().cloned().unwrap_or(start);
            let value = f(&point);
            Minimum {
                point,
                value,
                iterations: state.get_iter(),
            }
        }
        Err(_) => {
            let value = f(&start);
            Minimum {
                point: start,
                value,
                iterations: 0,
            }
        }
    }
}
