// NativeProb — MIT License.
using System.Runtime.CompilerServices;

// Every export takes and returns blittable types only (C3): no marshalling stubs, no surprises.
[assembly: DisableRuntimeMarshalling]
