/**
 * The standard normal distribution, as TPE's Parzen estimators need it: the CDF and its logarithm
 * far into the tails, the quantile function, the log of the mass between two points, and draws
 * truncated to an interval. Pure arithmetic; accurate to about 1e-7 relative, which is far finer
 * than a density ratio between two kernel mixtures needs.
 */

const LOG_HALF = Math.log(0.5);
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * log(erfc(z)) for z ≥ 0, from the Chebyshev fit of Numerical Recipes (`erfcc`, fractional error
 * below 1.2e-7), evaluated in log space so it does not underflow for large z.
 */
function logErfc(z: number): number {
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -z * z -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t *
                      (0.27886807 +
                        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return Math.log(t) + poly;
}

/** erfc(z) for any z. */
function erfc(z: number): number {
  return z >= 0 ? Math.exp(logErfc(z)) : 2 - Math.exp(logErfc(-z));
}

/** Φ(x), the standard normal CDF. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** log Φ(x), finite for any finite x (about −x²/2 far in the lower tail). */
export function logNormalCdf(x: number): number {
  if (x < 0) return LOG_HALF + logErfc(-x / Math.SQRT2);
  return Math.log1p(-0.5 * Math.exp(logErfc(x / Math.SQRT2)));
}

/** log of the standard normal density at x. */
export function logNormalPdf(x: number): number {
  return -0.5 * x * x - LOG_SQRT_2PI;
}

/** log(1 − e^d) for d ≤ 0, without cancellation at either end. */
function log1mExp(d: number): number {
  return d > -Math.LN2 ? Math.log(-Math.expm1(d)) : Math.log1p(-Math.exp(d));
}

/** log(Φ(b) − Φ(a)) for a < b, accurate when both are far in the same tail. */
export function logNormalMass(a: number, b: number): number {
  if (!(a < b)) return -Infinity;
  if (b <= 0) return logNormalCdf(b) + log1mExp(logNormalCdf(a) - logNormalCdf(b));
  if (a >= 0) return logNormalMass(-b, -a);
  return Math.log1p(-(normalCdf(a) + normalCdf(-b)));
}

// Acklam's rational approximation of the normal quantile (relative error below 1.15e-9).
const A = [
  -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
  2.506628277459239,
];
const B = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
const C = [
  -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
];
const D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];

/** Φ⁻¹(p) for p in (0, 1); ±Infinity at 0 and 1. */
export function normalQuantile(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((C[0]! * q + C[1]!) * q + C[2]!) * q + C[3]!) * q + C[4]!) * q + C[5]!) /
      ((((D[0]! * q + D[1]!) * q + D[2]!) * q + D[3]!) * q + 1)
    );
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((A[0]! * r + A[1]!) * r + A[2]!) * r + A[3]!) * r + A[4]!) * r + A[5]!) * q) /
    (((((B[0]! * r + B[1]!) * r + B[2]!) * r + B[3]!) * r + B[4]!) * r + 1)
  );
}

/**
 * A standard normal draw conditioned on [a, b], by inverting the CDF at `u` in [0, 1). An interval
 * in the upper tail is reflected into the lower one, where Φ keeps its precision.
 */
export function truncatedNormalQuantile(a: number, b: number, u: number): number {
  if (a > 0) return -truncatedNormalQuantile(-b, -a, 1 - u);
  const low = normalCdf(a);
  const high = normalCdf(b);
  if (!(high > low)) return b < 0 ? b : a;
  const x = normalQuantile(low + u * (high - low));
  return Math.min(b, Math.max(a, x));
}
