// NativeProb — MIT License.
using System.Runtime.InteropServices;
using NativeProb.Attention;
using NativeProb.Errors;
using NativeProb.Native.Infra;
using NativeProb.Native.Types;

namespace NativeProb.Native.Exports;

/// <summary>Exact attention, one call or through a reusable plan (nativeprob.h, "Attention").</summary>
public static unsafe class AttentionExports
{
    internal static readonly HandleTable<AttentionCall> Plans = new(Abi.TagAttentionPlan, "np_attention_plan_t");

    /// <summary><c>np_status_t np_attention_forward(const np_attention_options_t* options, const float* q, size_t q_count, const float* k, size_t k_count, const float* v, size_t v_count, float* out, size_t out_count)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_attention_forward")]
    public static int np_attention_forward(np_attention_options_t* options, float* q, nuint q_count, float* k, nuint k_count,
        float* v, nuint v_count, float* @out, nuint out_count)
    {
        try
        {
            AttentionCall.From(options, nameof(options)).Forward(q, q_count, k, k_count, v, v_count, @out, out_count);
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_attention_plan_create(const np_attention_options_t* options, np_attention_plan_t** plan)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_attention_plan_create")]
    public static int np_attention_plan_create(np_attention_options_t* options, nint* plan)
    {
        try
        {
            Check.NotNull(plan, nameof(plan));
            *plan = 0;
            *plan = Plans.Add(AttentionCall.From(options, nameof(options)));
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_attention_plan_forward(const np_attention_plan_t* plan, const float* q, size_t q_count, const float* k, size_t k_count, const float* v, size_t v_count, float* out, size_t out_count)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_attention_plan_forward")]
    public static int np_attention_plan_forward(nint plan, float* q, nuint q_count, float* k, nuint k_count,
        float* v, nuint v_count, float* @out, nuint out_count)
    {
        try
        {
            Plans.Get(plan, nameof(plan)).Forward(q, q_count, k, k_count, v, v_count, @out, out_count);
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_attention_plan_destroy(np_attention_plan_t* plan)</c>; NULL is a no-op.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_attention_plan_destroy")]
    public static int np_attention_plan_destroy(nint plan)
    {
        try
        {
            if (plan == 0) return 0;
            Plans.Remove(plan, nameof(plan));
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_workers_wake(int32_t threads, int32_t keep_awake_us, int32_t* awake)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_workers_wake")]
    public static int np_workers_wake(int threads, int keep_awake_us, int* awake)
    {
        try
        {
            long max = (long)AttentionWorkers.MaxKeepAwake.TotalMicroseconds;
            if (keep_awake_us < 0 || keep_awake_us > max)
                throw new NpException(NpStatus.InvalidArgument, $"keep_awake_us is {keep_awake_us}; expected 0 to {max}.");
            int n = AttentionWorkers.Wake(threads, TimeSpan.FromMicroseconds(keep_awake_us));
            if (awake != null) *awake = n;
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }
}
