COMMENT
NethubExp2Syn: the double-exponential synapse of NEURON's built-in Exp2Syn (rise tau1, decay
tau2, reversal e; an event of weight w adds w*factor to both states so that the peak
conductance is w), written for nethub. Its arithmetic is that of the built-in one step for step:
the built-in's cnexp update A = A + (1 - exp(dt*(-1/tau1)))*(-(0)/(-1/tau1) - A) recomputes the
exponential every step, while here 1 - exp(dt*(-1/tau1)) (the same expression, so the same
double) is computed once in INITIAL and -(0)/(-1/tau1) - A is written 0 - A (equal for every A).
For fixed-step runs only (dt constant after finitialize): nethub uses it on CoreNEURON.
ENDCOMMENT

NEURON {
    POINT_PROCESS NethubExp2Syn
    RANGE tau1, tau2, e, i, g
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
}

PARAMETER {
    tau1 = 0.1 (ms) <1e-9,1e9>
    tau2 = 10 (ms) <1e-9,1e9>
    e = 0 (mV)
}

ASSIGNED {
    v (mV)
    i (nA)
    g (uS)
    factor
    step1
    step2
}

STATE {
    A (uS)
    B (uS)
}

INITIAL {
    LOCAL tp
    if (tau1/tau2 > 0.9999) {
        tau1 = 0.9999*tau2
    }
    if (tau1/tau2 < 1e-9) {
        tau1 = tau2*1e-9
    }
    A = 0
    B = 0
    tp = (tau1*tau2)/(tau2 - tau1) * log(tau2/tau1)
    factor = -exp(-tp/tau1) + exp(-tp/tau2)
    factor = 1/factor
    step1 = 1.0 - exp(dt*((-1.0)/tau1))
    step2 = 1.0 - exp(dt*((-1.0)/tau2))
}

BREAKPOINT {
    SOLVE decay
    g = B - A
    i = g*(v - e)
}

PROCEDURE decay() {
    A = A + step1*(0.0 - A)
    B = B + step2*(0.0 - B)
}

NET_RECEIVE(weight (uS)) {
    A = A + weight*factor
    B = B + weight*factor
}
