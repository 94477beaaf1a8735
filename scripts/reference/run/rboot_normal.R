#!/usr/bin/env Rscript
# R boot's bias-corrected normal interval for replay_scipy.py.
#
# Usage: Rscript rboot_normal.R IN.tsv LEVEL OUT.tsv
#
# IN.tsv: one line per statistic:  KEY<TAB>t0<TAB>space-separated replicates t
# OUT.tsv: KEY<TAB>low<TAB>high, from boot::norm.ci(t0 = t0, t = t, conf = LEVEL)
#          (t0 - (mean(t) - t0) -/+ qnorm((1 + conf) / 2) * sd(t)), 17 significant digits.
suppressPackageStartupMessages(library(boot))
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 3) stop("usage: Rscript rboot_normal.R IN.tsv LEVEL OUT.tsv")
conf <- as.numeric(args[2])
out <- character(0)
for (line in readLines(args[1])) {
  f <- strsplit(line, "\t", fixed = TRUE)[[1]]
  t0 <- as.numeric(f[2])
  t <- scan(text = f[3], quiet = TRUE)
  ci <- norm.ci(NULL, conf = conf, t0 = t0, t = t)
  out <- c(out, paste(f[1], sprintf("%.17g", ci[1, 2]), sprintf("%.17g", ci[1, 3]), sep = "\t"))
}
out <- c(out, paste("#versions", as.character(packageVersion("boot")), paste(R.version$major, R.version$minor, sep = "."), sep = "\t"))
writeLines(out, args[3])
