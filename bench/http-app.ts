import {
  Controller,
  Get,
  HttpCode,
  Inject,
  Injectable,
  Module,
  Post,
  Req,
  UnauthorizedException,
  UseGuards,
  createParamDecorator,
  type CanActivate,
  type DynamicModule,
  type ExecutionContext,
} from '@nestjs/common';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { jwtVerify } from 'jose';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';
import { Session, SessionGuard, SessionModule, VerifySession } from '../lib/index.js';
import { typeOrmOptions } from './database.js';
import { BENCH_USER, type AdapterKind, type ChildContext } from './settings.js';

/** Every route answers the same small body, so only the protection differs. */
interface Answer {
  user: string;
}

const HMAC_SECRET = Symbol('HMAC_SECRET');
const FLOOR_PROPERTY = Symbol('bench:floor');

/** The floor: the least a guard + param decorator can cost in Nest (puts an object on the request). */
@Injectable()
class NoopGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Record<symbol, unknown>>();
    request[FLOOR_PROPERTY] = { userId: BENCH_USER };
    return true;
  }
}

const FloorUser = createParamDecorator(
  (_: unknown, context: ExecutionContext) =>
    context.switchToHttp().getRequest<Record<symbol, { userId: string }>>()[FLOOR_PROPERTY].userId,
);

interface BearerRequest {
  headers: Record<string, string | string[] | undefined>;
  benchUser?: string;
}

/** What many apps write first: verify the Bearer JWT with jose on every request (HS256). */
@Injectable()
class NaiveJoseGuard implements CanActivate {
  constructor(@Inject(HMAC_SECRET) private readonly secret: Uint8Array) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<BearerRequest>();
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) throw new UnauthorizedException();
    try {
      const { payload } = await jwtVerify(header.slice(7), this.secret, { algorithms: ['HS256'] });
      request.benchUser = String(payload.sub);
    } catch {
      throw new UnauthorizedException();
    }
    return true;
  }
}

const BearerUser = createParamDecorator(
  (_: unknown, context: ExecutionContext) => context.switchToHttp().getRequest<BearerRequest>().benchUser,
);

/** The `@nestjs/passport` + `passport-jwt` recipe of the Nest docs, same key. */
@Injectable()
class BenchJwtStrategy extends PassportStrategy(JwtStrategy, 'jwt') {
  constructor(@Inject(HMAC_SECRET) secret: Uint8Array) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      secretOrKey: Buffer.from(secret),
      algorithms: ['HS256'],
    });
  }

  validate(payload: { sub: string }): { userId: string } {
    return { userId: payload.sub };
  }
}

const PassportUser = createParamDecorator(
  (_: unknown, context: ExecutionContext) =>
    context.switchToHttp().getRequest<{ user: { userId: string } }>().user.userId,
);

interface ExpressSessionRequest {
  session?: { userId?: string };
}

/** express-session (+ express-mysql-session) as the session check: the middleware loaded it. */
@Injectable()
class ExpressSessionGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<ExpressSessionRequest>();
    if (!request.session?.userId) throw new UnauthorizedException();
    return true;
  }
}

const ExpressSessionUser = createParamDecorator(
  (_: unknown, context: ExecutionContext) =>
    context.switchToHttp().getRequest<ExpressSessionRequest>().session?.userId,
);

@Controller()
class BenchController {
  @Get('open')
  open(): Answer {
    return { user: BENCH_USER };
  }

  @Post('open')
  @HttpCode(200)
  openPost(): Answer {
    return { user: BENCH_USER };
  }

  @UseGuards(NoopGuard)
  @Get('floor')
  floor(@FloorUser() user: string): Answer {
    return { user };
  }

  @UseGuards(SessionGuard)
  @Get('session')
  session(@Session() session: Session): Answer {
    return { user: String(session.getUserId()) };
  }

  @UseGuards(SessionGuard)
  @Post('session')
  @HttpCode(200)
  sessionPost(@Session() session: Session): Answer {
    return { user: String(session.getUserId()) };
  }

  @UseGuards(SessionGuard)
  @VerifySession({ checkDatabase: true })
  @Get('session-db')
  sessionDatabase(@Session() session: Session): Answer {
    return { user: String(session.getUserId()) };
  }

  @UseGuards(NaiveJoseGuard)
  @Get('jose')
  jose(@BearerUser() user: string): Answer {
    return { user };
  }

  @UseGuards(AuthGuard('jwt'))
  @Get('passport')
  passport(@PassportUser() user: string): Answer {
    return { user };
  }
}

/** Express only: the express-session middleware is mounted on /express-session by the server. */
@Controller('express-session')
class ExpressSessionController {
  @Post('login')
  @HttpCode(200)
  login(@Req() request: ExpressSessionRequest): Answer {
    request.session!.userId = BENCH_USER;
    return { user: BENCH_USER };
  }

  @UseGuards(ExpressSessionGuard)
  @Get()
  guarded(@ExpressSessionUser() user: string): Answer {
    return { user };
  }
}

/** Access tokens outlive the whole run, so no route starts answering 401 halfway. */
export const BENCH_ACCESS_TOKEN_VALIDITY = 3 * 3600;

/** The library's options for every part of the benchmark: static keys shared with the baselines. */
export function sessionOptions(context: ChildContext) {
  return {
    secret: context.secrets.secret,
    accessToken: { validity: BENCH_ACCESS_TOKEN_VALIDITY, signingKey: { keys: [context.secrets.jwk] } },
    cookie: { secure: false },
    cleanupInterval: 0,
  };
}

/** The benchmark app: the same trivial route open and behind each kind of protection. */
@Module({})
export class BenchHttpModule {
  static forAdapter(adapter: AdapterKind, context: ChildContext): DynamicModule {
    const secret = Buffer.from(String(context.secrets.jwk.k), 'base64url');
    return {
      module: BenchHttpModule,
      imports: [
        TypeOrmModule.forRoot(typeOrmOptions(context.settings.database)),
        SessionModule.forRoot(sessionOptions(context)),
        PassportModule,
      ],
      controllers: adapter === 'express' ? [BenchController, ExpressSessionController] : [BenchController],
      providers: [
        { provide: HMAC_SECRET, useValue: new Uint8Array(secret) },
        NoopGuard,
        NaiveJoseGuard,
        BenchJwtStrategy,
        ExpressSessionGuard,
      ],
    };
  }
}
