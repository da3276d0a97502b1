package planeval

import (
	"fmt"

	"github.com/open-policy-agent/opa/v1/ir"
)

// The plan's statements are compiled once into instructions: each names
// its callee, its constants and its local slots directly, so that
// evaluating one is a switch on a small integer rather than a type switch
// on a statement, a map lookup per call and a decoding per operand.

type opcode uint8

const (
	opNop opcode = iota
	opDot
	opAssign
	opAssignOnce
	opCallFunc
	opCallBuiltin
	opCallDynamic
	opNotEqual
	opEqual
	opIsDefined
	opIsUndefined
	opReset
	opReturn
	opBlocks
	opBreak
	opScan
	opNot
	opWith
	opArrayAppend
	opSetAdd
	opObjectInsert
	opObjectInsertOnce
	opObjectMerge
	opMakeArray
	opMakeObject
	opMakeSet
	opConst
	opIsArray
	opIsObject
	opIsSet
	opLen
	opResultAdd
)

// operand is a local slot, or, when negative, the constant ^operand of
// the program (Program.konsts; ^0 is undefined).
type operand int32

// get reads operand o.
func get(locals, konsts []any, o operand) any {
	if o >= 0 {
		return locals[o]
	}
	return konsts[^o]
}

// instr is one compiled statement, 64 bytes. target is the local it
// writes (or tests, or, for with, replaces); a and b its operands. What
// calls and the few other statements need is out of line, to keep the
// instructions of a block close together.
type instr struct {
	op     opcode
	target int32
	n      int32 // break index, array and object capacity
	a, b   operand
	blocks []*block
	call   *callInfo
	rare   *rareFields
}

type callInfo struct {
	fn   *function
	bi   *builtin
	args []operand // call arguments, dynamic call path
}

type rareFields struct {
	key, value int32     // the locals a scan sets
	dynArgs    []operand // dynamic call arguments
	path       []string  // with
	loc        ir.Location
}

// konst returns the operand of constant v, adding it to the program.
func (p *Program) konst(v any) operand {
	p.konsts = append(p.konsts, v)
	return ^operand(len(p.konsts) - 1)
}

type block struct{ instrs []instr }

// compiler compiles the functions of a plan, and the plan, one after
// another into its program.
type compiler struct {
	p *Program
	// capacity holds, while a function compiles, the inserts that follow
	// the making of each object local (see compileBlock); frameSize the
	// local slots it uses so far.
	capacity  map[ir.Local]int32
	frameSize int
}

func local(l ir.Local) operand { return operand(l) }

// startFrame starts compiling a function (or the plan) whose frame holds
// at least the locals given.
func (c *compiler) startFrame(locals []ir.Local) {
	c.capacity, c.frameSize = map[ir.Local]int32{}, 0
	for _, l := range locals {
		c.slot(int32(l))
	}
}

// slot counts local l in the frame being compiled.
func (c *compiler) slot(l int32) {
	c.frameSize = max(c.frameSize, int(l)+1)
}

// slots counts the locals an instruction names.
func (c *compiler) slots(in *instr) {
	c.slot(in.target)
	for _, o := range []operand{in.a, in.b} {
		c.slot(int32(o))
	}
	if in.call != nil {
		for _, o := range in.call.args {
			c.slot(int32(o))
		}
	}
	if in.rare != nil {
		c.slot(in.rare.key)
		c.slot(in.rare.value)
		for _, o := range in.rare.dynArgs {
			c.slot(int32(o))
		}
	}
}

// compileBlocks compiles blocks of the plan or of a function.
func (c *compiler) compileBlocks(bs []*ir.Block) ([]*block, error) {
	out := make([]*block, len(bs))
	for i, b := range bs {
		cb, err := c.compileBlock(b)
		if err != nil {
			return nil, err
		}
		out[i] = cb
	}
	return out, nil
}

func (c *compiler) operand(o ir.Operand) operand {
	switch v := o.Value.(type) {
	case ir.Local:
		return local(v)
	case ir.StringIndex:
		return c.p.stringOps[v]
	case ir.Bool:
		if v {
			return c.p.trueOp
		}
		return c.p.falseOp
	}
	// An operand the planner does not make: undefined.
	return ^operand(0)
}

func (c *compiler) compileBlock(b *ir.Block) (*block, error) {
	out := &block{instrs: make([]instr, 0, len(b.Stmts))}
	for i, s := range b.Stmts {
		in := instr{}
		switch s := s.(type) {
		case *ir.DotStmt:
			in = instr{op: opDot, a: c.operand(s.Source), b: c.operand(s.Key), target: int32(s.Target)}
		case *ir.AssignVarStmt:
			in = instr{op: opAssign, a: c.operand(s.Source), target: int32(s.Target)}
		case *ir.AssignVarOnceStmt:
			in = instr{op: opAssignOnce, a: c.operand(s.Source), target: int32(s.Target), rare: &rareFields{loc: s.Location}}
		case *ir.CallStmt:
			in = instr{target: int32(s.Result), call: &callInfo{args: make([]operand, len(s.Args))}}
			for i, a := range s.Args {
				in.call.args[i] = c.operand(a)
			}
			if f, ok := c.p.funcs[s.Func]; ok {
				in.op, in.call.fn = opCallFunc, f
				if len(in.call.args) > len(f.params) {
					in.call.args = in.call.args[:len(f.params)]
				}
				break
			}
			b, err := c.p.builtin(s.Func)
			if err != nil {
				return nil, err
			}
			in.op, in.call.bi = opCallBuiltin, b
		case *ir.CallDynamicStmt:
			in = instr{op: opCallDynamic, target: int32(s.Result), call: &callInfo{args: make([]operand, len(s.Path))}, rare: &rareFields{dynArgs: make([]operand, len(s.Args))}}
			for i, o := range s.Path {
				in.call.args[i] = c.operand(o)
			}
			for i, l := range s.Args {
				in.rare.dynArgs[i] = local(l)
			}
		case *ir.NotEqualStmt:
			in = instr{op: opNotEqual, a: c.operand(s.A), b: c.operand(s.B)}
		case *ir.EqualStmt:
			in = instr{op: opEqual, a: c.operand(s.A), b: c.operand(s.B)}
		case *ir.IsDefinedStmt:
			in = instr{op: opIsDefined, target: int32(s.Source)}
		case *ir.IsUndefinedStmt:
			in = instr{op: opIsUndefined, target: int32(s.Source)}
		case *ir.ResetLocalStmt:
			in = instr{op: opReset, target: int32(s.Target)}
		case *ir.ReturnLocalStmt:
			in = instr{op: opReturn}
		case *ir.BlockStmt:
			bs, err := c.compileBlocks(s.Blocks)
			if err != nil {
				return nil, err
			}
			in = instr{op: opBlocks, blocks: bs}
		case *ir.BreakStmt:
			in = instr{op: opBreak, n: int32(s.Index)}
		case *ir.ScanStmt:
			body, err := c.compileBlock(s.Block)
			if err != nil {
				return nil, err
			}
			in = instr{op: opScan, a: local(s.Source), rare: &rareFields{key: int32(s.Key), value: int32(s.Value)}, blocks: []*block{body}}
		case *ir.NotStmt:
			body, err := c.compileBlock(s.Block)
			if err != nil {
				return nil, err
			}
			in = instr{op: opNot, blocks: []*block{body}}
		case *ir.WithStmt:
			body, err := c.compileBlock(s.Block)
			if err != nil {
				return nil, err
			}
			in = instr{op: opWith, target: int32(s.Local), a: c.operand(s.Value), blocks: []*block{body}, rare: &rareFields{}}
			for _, idx := range s.Path {
				in.rare.path = append(in.rare.path, c.p.strings[idx].(string))
			}
		case *ir.ArrayAppendStmt:
			in = instr{op: opArrayAppend, a: c.operand(s.Value), target: int32(s.Array)}
		case *ir.SetAddStmt:
			in = instr{op: opSetAdd, a: c.operand(s.Value), target: int32(s.Set)}
		case *ir.ObjectInsertStmt:
			in = instr{op: opObjectInsert, a: c.operand(s.Key), b: c.operand(s.Value), target: int32(s.Object), n: c.capacity[s.Object]}
		case *ir.ObjectInsertOnceStmt:
			in = instr{op: opObjectInsertOnce, a: c.operand(s.Key), b: c.operand(s.Value), target: int32(s.Object), n: c.capacity[s.Object], rare: &rareFields{loc: s.Location}}
		case *ir.ObjectMergeStmt:
			in = instr{op: opObjectMerge, a: local(s.A), b: local(s.B), target: int32(s.Target)}
		case *ir.MakeArrayStmt:
			in = instr{op: opMakeArray, n: s.Capacity, target: int32(s.Target)}
		case *ir.MakeObjectStmt:
			// The object is made at its first insert, with room for the
			// inserts that follow in this block.
			c.capacity[s.Target] = insertsInto(b.Stmts[i+1:], s.Target)
			in = instr{op: opMakeObject, target: int32(s.Target)}
		case *ir.MakeSetStmt:
			in = instr{op: opMakeSet, target: int32(s.Target)}
		case *ir.MakeNullStmt:
			in = instr{op: opConst, a: c.p.konst(null{}), target: int32(s.Target)}
		case *ir.MakeNumberIntStmt:
			in = instr{op: opConst, a: c.p.konst(box(float64(s.Value))), target: int32(s.Target)}
		case *ir.MakeNumberRefStmt:
			in = instr{op: opConst, a: c.p.konst(c.p.numbers[s.Index]), target: int32(s.Target)}
		case *ir.AssignIntStmt:
			in = instr{op: opConst, a: c.p.konst(box(float64(s.Value))), target: int32(s.Target)}
		case *ir.IsArrayStmt:
			in = instr{op: opIsArray, a: c.operand(s.Source)}
		case *ir.IsObjectStmt:
			in = instr{op: opIsObject, a: c.operand(s.Source)}
		case *ir.IsSetStmt:
			in = instr{op: opIsSet, a: c.operand(s.Source)}
		case *ir.LenStmt:
			in = instr{op: opLen, a: c.operand(s.Source), target: int32(s.Target)}
		case *ir.ResultSetAddStmt:
			in = instr{op: opResultAdd, target: int32(s.Value)}
		case *ir.NopStmt:
			in = instr{op: opNop}
		default:
			return nil, fmt.Errorf("statement %T is not supported", s)
		}
		c.slots(&in)
		out.instrs = append(out.instrs, in)
	}
	return out, nil
}

// insertsInto counts the inserts into the object in local l that follow
// in the same block, as the capacity to make it with.
func insertsInto(stmts []ir.Stmt, l ir.Local) int32 {
	var n int32
	for _, s := range stmts {
		switch s := s.(type) {
		case *ir.ObjectInsertStmt:
			if s.Object == l {
				n++
			}
		case *ir.ObjectInsertOnceStmt:
			if s.Object == l {
				n++
			}
		}
	}
	return n
}
